//! The database of either backend, and the macros that run the same SQL on both.
//! SQL is written once in the dialect both share (`$n` parameters, TEXT and
//! BIGINT columns, `ON CONFLICT` upserts); the macros expand it once per backend
//! so each keeps its native, statically typed driver.

use sqlx::{PgPool, SqlitePool};

/// The database holding the log, the read models and the tables of this crate:
/// one handle, so no part of Roster opens a backend of its own.
#[derive(Clone, Debug)]
pub enum Db {
    /// PostgreSQL.
    Pg(PgPool),
    /// SQLite.
    Sqlite(SqlitePool),
}

/// An open transaction on a [`Db`] (the log's own type, so an append left open
/// by the store can carry more writes: see `roster_eventstore::Uncommitted`).
pub use roster_eventstore::Tx;

impl Db {
    /// Starts a write transaction (on SQLite, `BEGIN IMMEDIATE`, so one that reads
    /// before it writes cannot fail to upgrade after another connection's commit).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Pg(p) => Tx::Pg(p.begin().await?),
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// Whether a write transaction can begin within `within`: readiness must notice
    /// a database that answers reads but cannot be written (SQLite's write lock
    /// held, a read-only file; PostgreSQL in read-only mode, e.g. set so when its
    /// disk filled up, or a standby). The probe runs in a task of its own, so
    /// giving up on it never abandons a half-begun transaction.
    pub async fn can_write(&self, within: std::time::Duration) -> bool {
        let db = self.clone();
        let probe = tokio::spawn(async move {
            let mut tx = db.begin().await?;
            let writable = match &mut tx {
                Tx::Pg(t) => {
                    sqlx::query_scalar::<_, String>(
                        "SELECT current_setting('transaction_read_only')",
                    )
                    .fetch_one(&mut **t)
                    .await?
                        == "off"
                }
                Tx::Sqlite(_) => true,
            };
            tx.rollback().await?;
            Ok::<bool, sqlx::Error>(writable)
        });
        matches!(tokio::time::timeout(within, probe).await, Ok(Ok(Ok(true))))
    }

    /// True on PostgreSQL (advisory locks, transactional DDL at scale).
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Pg(_))
    }
}

/// Runs a statement in a [`Tx`]; yields `Result<u64 rows affected, sqlx::Error>`.
#[macro_export]
macro_rules! exec {
    ($tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $tx {
            $crate::db::Tx::Pg(tx) => sqlx::query($sql)$(.bind($arg))*.execute(&mut **tx).await.map(|r| r.rows_affected()),
            $crate::db::Tx::Sqlite(tx) => sqlx::query($sql)$(.bind($arg))*.execute(&mut **tx).await.map(|r| r.rows_affected()),
        }
    };
}

/// Fetches rows as `$T` (a `FromRow` struct or a tuple) from a [`Db`] or a [`Tx`] (`fetch_all`,
/// `fetch_optional` or `fetch_one` as `$how`).
#[macro_export]
macro_rules! fetch {
    (db $db:expr, $how:ident, $T:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $db {
            $crate::db::Db::Pg(p) => sqlx::query_as::<_, $T>($sql)$(.bind($arg))*.$how(p).await,
            $crate::db::Db::Sqlite(p) => sqlx::query_as::<_, $T>($sql)$(.bind($arg))*.$how(p).await,
        }
    };
    (tx $tx:expr, $how:ident, $T:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $tx {
            $crate::db::Tx::Pg(tx) => sqlx::query_as::<_, $T>($sql)$(.bind($arg))*.$how(&mut **tx).await,
            $crate::db::Tx::Sqlite(tx) => sqlx::query_as::<_, $T>($sql)$(.bind($arg))*.$how(&mut **tx).await,
        }
    };
}

/// Declares a row type whose fields are read by column name, on either backend:
/// `FromRow` without sqlx's derive, whose proc-macro crate would compile both
/// database drivers a second time for the build host.
#[macro_export]
macro_rules! row {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        $vis struct $name {
            $($field: $ty),*
        }

        impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for $name
        where
            &'static str: sqlx::ColumnIndex<R>,
            $($ty: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>),*
        {
            fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
                Ok(Self {
                    $($field: row.try_get(stringify!($field))?),*
                })
            }
        }
    };
}

/// Times as Roster's tables store them: fixed-width UTC text, so text order is time order.
pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Positions as Roster's tables store them (BIGINT).
pub fn pos_i64(p: roster_eventstore::Position) -> i64 {
    i64::try_from(p.0).unwrap_or(i64::MAX)
}
