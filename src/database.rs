//! Choosing the backend from `DATABASE_URL`, connecting with clear errors, migrating.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use roster_workers::mailer::private;

use roster_eventstore::{Clock, EventStore, PgStore, SqliteStore, SystemClock};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{ConnectOptions, Connection};

/// How one instance shares out its PostgreSQL connections. `--db-connections`
/// is the most it ever opens, everything counted: the requests' pool, the event
/// store's append pool (half the requests', see
/// [`append_connections`](roster_eventstore::postgres::append_connections)), the
/// background followers' pool (a quarter, one to four) and two sessions of their
/// own, the change listener's and the one holding leadership locks. With the
/// default 16 that is 8 + 4 + 2 + 2, so five instances fit PostgreSQL's default
/// 100 with room for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionBudget {
    /// The requests' pool.
    pub requests: u32,
    /// The store's append pool.
    pub appends: u32,
    /// The background followers' pool.
    pub background: u32,
}

/// The change listener's session and the leadership session.
const OWN_SESSIONS: u32 = 2;

/// The smallest budget that leaves one connection to each pool.
pub const MIN_CONNECTIONS: u32 = 5;

impl ConnectionBudget {
    /// The largest requests' pool whose whole family fits in `total`.
    pub fn of(total: u32) -> Self {
        let mut requests = total.max(MIN_CONNECTIONS);
        loop {
            let budget = Self::for_requests(requests);
            if budget.most() <= total || requests == 1 {
                return budget;
            }
            requests -= 1;
        }
    }

    /// The pools that go with a requests' pool of `requests` connections.
    fn for_requests(requests: u32) -> Self {
        Self {
            requests,
            appends: roster_eventstore::postgres::append_connections(requests),
            background: background_connections(requests),
        }
    }

    /// Every connection this budget may open.
    pub fn most(&self) -> u32 {
        self.requests + self.appends + self.background + OWN_SESSIONS
    }
}

/// The background followers' pool for a requests' pool of `requests`: the
/// projector, the two email senders and the expiry worker take turns on it.
fn background_connections(requests: u32) -> u32 {
    (requests / 4).clamp(1, 4)
}

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

/// The log and the database as requests and as the background followers reach them.
pub struct Stores {
    /// The event store requests read and append through.
    pub requests: Arc<dyn EventStore>,
    /// The same store, read through the followers' connections.
    pub followers: Arc<dyn EventStore>,
    /// The database on the followers' connections.
    pub background: roster_storage::Db,
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
        Self::connect_sized(
            url,
            crate::config::defaults::DB_CONNECTIONS,
            Duration::from_secs(30),
        )
        .await
    }

    /// [`Database::connect`] opening at most `connections` PostgreSQL connections
    /// in all (see [`ConnectionBudget`]), closing those of the requests' and the
    /// appends' pools after `idle` unused, so a quiet instance holds only its
    /// followers' and its own two sessions.
    pub async fn connect_sized(
        url: &str,
        connections: u32,
        idle: Duration,
    ) -> Result<Self, DatabaseError> {
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
                // No ping before each use: a round trip per acquire (5% of the
                // server's CPU under the invite load); a connection that died
                // fails its next statement, is dropped, and the caller's
                // error or retry handles it as any database error.
                .test_before_acquire(false)
                .max_connections(ConnectionBudget::of(connections).requests)
                .min_connections(0)
                .idle_timeout(idle)
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
        Ok(self.stores_with_clock(clock).await?.requests)
    }

    /// The event store for requests, and the same store and database as the
    /// background followers reach them: on PostgreSQL through a few connections
    /// of their own, so a backlog of requests never starves them, their batches
    /// never make a signed-in read wait, and a quiet instance leaves the requests'
    /// pool unused. SQLite has one writer whatever the pool, so it shares it.
    pub async fn stores_with_clock(&self, clock: Arc<dyn Clock>) -> Result<Stores, DatabaseError> {
        Ok(match self {
            Database::Postgres(pool) => {
                let store = PgStore::with_clock(pool.clone(), clock).await?;
                let options = pool.connect_options().as_ref().clone();
                let background = PgPoolOptions::new()
                    // No ping before each use: a round trip per acquire (5% of the
                    // server's CPU under the invite load); a connection that died
                    // fails its next statement, is dropped, and the caller's
                    // error or retry handles it as any database error.
                    .test_before_acquire(false)
                    .max_connections(background_connections(pool.options().get_max_connections()))
                    .min_connections(0)
                    .acquire_timeout(Duration::from_secs(30))
                    .idle_timeout(pool.options().get_idle_timeout())
                    .connect_lazy_with(options);
                Stores {
                    followers: Arc::new(store.reading_from(background.clone())),
                    requests: Arc::new(store),
                    background: roster_storage::Db::Pg(background),
                }
            }
            Database::Sqlite(pool) => {
                let store: Arc<dyn EventStore> =
                    Arc::new(SqliteStore::with_clock(pool.clone(), clock));
                Stores {
                    followers: store.clone(),
                    requests: store,
                    background: roster_storage::Db::Sqlite(pool.clone()),
                }
            }
        })
    }

    /// The read-model database (the same database as the log).
    pub fn read_db(&self) -> roster_storage::Db {
        match self {
            Database::Postgres(pool) => roster_storage::Db::Pg(pool.clone()),
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
    use super::*;

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

    #[test]
    fn every_budget_is_kept_and_leaves_each_pool_a_connection() {
        for total in MIN_CONNECTIONS..=1000 {
            let b = ConnectionBudget::of(total);
            assert!(b.most() <= total, "{total}: {b:?}");
            assert!(
                b.requests >= 1 && b.appends >= 1 && b.background >= 1,
                "{total}: {b:?}"
            );
        }
        assert_eq!(
            ConnectionBudget::of(16),
            ConnectionBudget {
                requests: 8,
                appends: 4,
                background: 2
            }
        );
    }
}
