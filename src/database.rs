//! Choosing the backend from `DATABASE_URL`, connecting with clear errors, migrating.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use roster_workers::mailer::private;

use roster_eventstore::{Clock, EventStore, PgStore, SqliteStore, SystemClock};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{ConnectOptions, Connection};

/// Connections the background followers (the projection runners, the two email
/// senders and the expiry worker) share between them, apart from the requests'.
const BACKGROUND_CONNECTIONS: u32 = 6;

/// Why the database could not be opened, worded for the operator who must fix it.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The URL names no backend Roster has.
    #[error("DATABASE_URL {url} is not supported: use postgres://user@host/db or sqlite://path/to/file.db")]
    UnsupportedScheme {
        /// The URL with any password hidden.
        url: String,
    },
    /// The URL is malformed.
    #[error("DATABASE_URL {url} is not a valid database URL: {reason}")]
    InvalidUrl {
        /// The URL with any password hidden.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// The database did not answer or refused us.
    #[error("cannot connect to the database at {url}: {reason}")]
    Unreachable {
        /// The URL with any password hidden.
        url: String,
        /// What the driver said.
        reason: String,
    },
    /// The folder for the SQLite file could not be created.
    #[error("cannot create the folder {path} for the SQLite database: {reason}")]
    Folder {
        /// The folder.
        path: String,
        /// What the OS said.
        reason: String,
    },
    /// Migrations failed (e.g. the database holds a newer schema).
    #[error("migrating the database at {url} failed: {reason}")]
    Migration {
        /// The URL with any password hidden.
        url: String,
        /// What the migrator said.
        reason: String,
    },
    /// The store could not start.
    #[error("the event store could not start: {0}")]
    Store(#[from] roster_eventstore::StoreError),
}

/// An open database of either backend.
#[derive(Clone)]
pub enum Database {
    /// Production: PostgreSQL.
    Postgres(sqlx::PgPool),
    /// Embedded default: a SQLite file.
    Sqlite(sqlx::SqlitePool),
}

impl Database {
    /// Connects to `url`, creating the SQLite file (and its folder) when needed,
    /// with the default pool size.
    pub async fn connect(url: &str) -> Result<Self, DatabaseError> {
        Self::connect_sized(url, crate::config::defaults::DB_CONNECTIONS).await
    }

    /// [`Database::connect`] with at most `connections` PostgreSQL connections for
    /// requests (the background followers take at most half as many more, the
    /// appends a quarter, leadership one).
    pub async fn connect_sized(url: &str, connections: u32) -> Result<Self, DatabaseError> {
        let shown = redact(url);
        let unreachable = |e: sqlx::Error| DatabaseError::Unreachable {
            url: shown.clone(),
            reason: e.to_string(),
        };
        let invalid = |e: sqlx::Error| DatabaseError::InvalidUrl {
            url: shown.clone(),
            reason: e.to_string(),
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgStore::connect_options(url).map_err(invalid)?;
            // One direct attempt first: a pool only says "timed out", the driver says why.
            let probe = tokio::time::timeout(Duration::from_secs(5), options.connect())
                .await
                .map_err(|_| DatabaseError::Unreachable {
                    url: shown.clone(),
                    reason: "no answer within 5 seconds".to_owned(),
                })?
                .map_err(unreachable)?;
            let _ = probe.close().await;
            let pool = PgPoolOptions::new()
                .max_connections(connections.max(2))
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .map_err(unreachable)?;
            Ok(Database::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteStore::connect_options(url).map_err(invalid)?;
            if let Some(folder) = Path::new(options.get_filename()).parent() {
                if !folder.as_os_str().is_empty() {
                    private::create_dir(folder).map_err(|e| DatabaseError::Folder {
                        path: folder.display().to_string(),
                        reason: e.to_string(),
                    })?;
                }
            }
            let file = Path::new(options.get_filename()).to_path_buf();
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .map_err(unreachable)?;
            // The file holds password hashes and session digests: owner-only, like
            // SQLite's journal files beside it, which take its permissions.
            for suffix in ["", "-wal", "-shm"] {
                let path = std::path::PathBuf::from(format!("{}{suffix}", file.display()));
                if path.exists() {
                    if let Err(e) = private::restrict(&path) {
                        tracing::warn!(file = %path.display(), error = %e, "cannot restrict a database file to its owner");
                    }
                }
            }
            Ok(Database::Sqlite(pool))
        } else {
            Err(DatabaseError::UnsupportedScheme { url: shown })
        }
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> Result<(), DatabaseError> {
        let result = match self {
            Database::Postgres(pool) => roster_migrations::POSTGRES.run(pool).await,
            Database::Sqlite(pool) => roster_migrations::SQLITE.run(pool).await,
        };
        result.map_err(|e| DatabaseError::Migration {
            url: self.describe(),
            reason: e.to_string(),
        })
    }

    /// The event store over this database.
    pub async fn event_store(&self) -> Result<Arc<dyn EventStore>, DatabaseError> {
        self.event_store_with_clock(Arc::new(SystemClock)).await
    }

    /// The event store, stamping times from `clock`.
    pub async fn event_store_with_clock(
        &self,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<dyn EventStore>, DatabaseError> {
        Ok(match self {
            Database::Postgres(pool) => Arc::new(PgStore::with_clock(pool.clone(), clock).await?),
            Database::Sqlite(pool) => Arc::new(SqliteStore::with_clock(pool.clone(), clock)),
        })
    }

    /// The read-model database (the same database as the log).
    pub fn read_db(&self) -> roster_storage::Db {
        match self {
            Database::Postgres(pool) => roster_storage::Db::Pg(pool.clone()),
            Database::Sqlite(pool) => roster_storage::Db::Sqlite(pool.clone()),
        }
    }

    /// The database the background followers (projection runners, email and
    /// expiry workers) use: on PostgreSQL their own few connections, so a backlog
    /// of requests never starves them and their batches never make a signed-in
    /// read wait for a connection (`scripts/bench`, reads under the command load).
    /// SQLite has one writer whatever the pool, so it shares the pool.
    pub fn background_read_db(&self) -> roster_storage::Db {
        match self {
            Database::Postgres(pool) => {
                let options = pool.connect_options().as_ref().clone();
                // Never more than half the requests' pool: a small deployment (or a
                // test server) stays small.
                let size = BACKGROUND_CONNECTIONS.min(pool.options().get_max_connections() / 2);
                roster_storage::Db::Pg(
                    PgPoolOptions::new()
                        .max_connections(size.max(2))
                        .min_connections(0)
                        .acquire_timeout(Duration::from_secs(30))
                        .idle_timeout(Duration::from_secs(60))
                        .connect_lazy_with(options),
                )
            }
            Database::Sqlite(pool) => roster_storage::Db::Sqlite(pool.clone()),
        }
    }

    /// A short description for logs.
    pub fn describe(&self) -> String {
        match self {
            Database::Postgres(_) => "PostgreSQL".to_owned(),
            Database::Sqlite(_) => "SQLite".to_owned(),
        }
    }
}

/// The URL with its password replaced, safe to print.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact("sqlite://./data/roster.db"),
            "sqlite://./data/roster.db"
        );
    }
}
