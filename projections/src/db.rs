//! One read-model database of either backend, and the macros that run the same SQL
//! on both. Read-model SQL is written once in the dialect both share (`$n`
//! parameters, TEXT and BIGINT columns, `ON CONFLICT` upserts); the macros expand
//! it once per backend so each keeps its native, statically typed driver.

use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

/// The database holding the read models (the same one as the event log).
#[derive(Clone, Debug)]
pub enum ReadDb {
    /// PostgreSQL.
    Pg(PgPool),
    /// SQLite.
    Sqlite(SqlitePool),
}

/// An open read-model transaction.
pub enum ReadTx {
    /// PostgreSQL.
    Pg(Transaction<'static, Postgres>),
    /// SQLite.
    Sqlite(Transaction<'static, Sqlite>),
}

impl ReadDb {
    /// Starts a write transaction (on SQLite, `BEGIN IMMEDIATE`, so one that reads
    /// before it writes cannot fail to upgrade after another connection's commit).
    pub async fn begin(&self) -> Result<ReadTx, sqlx::Error> {
        Ok(match self {
            ReadDb::Pg(p) => ReadTx::Pg(p.begin().await?),
            ReadDb::Sqlite(p) => ReadTx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
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
                ReadTx::Pg(t) => {
                    sqlx::query_scalar::<_, String>(
                        "SELECT current_setting('transaction_read_only')",
                    )
                    .fetch_one(&mut **t)
                    .await?
                        == "off"
                }
                ReadTx::Sqlite(_) => true,
            };
            tx.rollback().await?;
            Ok::<bool, sqlx::Error>(writable)
        });
        matches!(tokio::time::timeout(within, probe).await, Ok(Ok(Ok(true))))
    }

    /// True on PostgreSQL (advisory locks, transactional DDL at scale).
    pub fn is_postgres(&self) -> bool {
        matches!(self, ReadDb::Pg(_))
    }
}

impl ReadTx {
    /// Undoes the transaction's work.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            ReadTx::Pg(tx) => tx.rollback().await,
            ReadTx::Sqlite(tx) => tx.rollback().await,
        }
    }

    /// Makes the transaction's work permanent.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            ReadTx::Pg(tx) => tx.commit().await,
            ReadTx::Sqlite(tx) => tx.commit().await,
        }
    }
}

/// Runs a statement in a [`ReadTx`]; yields `Result<u64 rows affected, sqlx::Error>`.
#[macro_export]
macro_rules! exec {
    ($tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $tx {
            $crate::db::ReadTx::Pg(tx) => sqlx::query($sql)$(.bind($arg))*.execute(&mut **tx).await.map(|r| r.rows_affected()),
            $crate::db::ReadTx::Sqlite(tx) => sqlx::query($sql)$(.bind($arg))*.execute(&mut **tx).await.map(|r| r.rows_affected()),
        }
    };
}

/// Fetches rows as tuples `$T` from a [`ReadDb`] or a [`ReadTx`] (`fetch_all`,
/// `fetch_optional` or `fetch_one` as `$how`).
#[macro_export]
macro_rules! fetch {
    (db $db:expr, $how:ident, $T:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $db {
            $crate::db::ReadDb::Pg(p) => sqlx::query_as::<_, $T>($sql)$(.bind($arg))*.$how(p).await,
            $crate::db::ReadDb::Sqlite(p) => sqlx::query_as::<_, $T>($sql)$(.bind($arg))*.$how(p).await,
        }
    };
    (tx $tx:expr, $how:ident, $T:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $tx {
            $crate::db::ReadTx::Pg(tx) => sqlx::query_as::<_, $T>($sql)$(.bind($arg))*.$how(&mut **tx).await,
            $crate::db::ReadTx::Sqlite(tx) => sqlx::query_as::<_, $T>($sql)$(.bind($arg))*.$how(&mut **tx).await,
        }
    };
}

/// Times as read models store them: fixed-width UTC text, so text order is time order.
pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Positions as read models store them (BIGINT).
pub fn pos_i64(p: roster_eventstore::Position) -> i64 {
    i64::try_from(p.0).unwrap_or(i64::MAX)
}
