//! Shared harness for Roster's end-to-end and backend tests: a fresh, migrated
//! database per test (a PostgreSQL schema or a SQLite file) so tests run in parallel.

pub mod binary;
pub mod browser;
pub mod http;
pub mod oidc;
pub mod smtp;
pub mod world;

use std::sync::Arc;

use roster_eventstore::{Clock, EventStore, PgStore, SqliteStore};
use roster_storage::Db;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use uuid::Uuid;

/// Where the test PostgreSQL lives: `ROSTER_TEST_DATABASE_URL`, else the project's
/// standard local server.
pub fn pg_url() -> String {
    std::env::var("ROSTER_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A PostgreSQL pool whose connections use a brand-new schema, migrated.
pub async fn fresh_pg_pool() -> anyhow::Result<PgPool> {
    let schema = format!("t_{}", Uuid::now_v7().simple());
    let admin = PgPool::connect(&pg_url()).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    let options = PgStore::connect_options(&pg_url())?.options([("search_path", schema.as_str())]);
    // Small, as a production instance's should be: two tests run at once, and the
    // suite must pass with 30 of PostgreSQL's connections free. The store's append
    // pool is half of this, the server's background pool two more.
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    roster_migrations::POSTGRES.run(&pool).await?;
    Ok(pool)
}

/// A SQLite pool on a new file under the system temp folder, migrated.
pub async fn fresh_sqlite_pool() -> anyhow::Result<SqlitePool> {
    let dir = std::env::temp_dir().join("roster-tests");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.db", Uuid::now_v7().simple()));
    let options = SqliteStore::connect_options(&format!("sqlite://{}", path.display()))?;
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    roster_migrations::SQLITE.run(&pool).await?;
    Ok(pool)
}

/// A PostgreSQL event store on a fresh schema.
pub async fn pg_store() -> anyhow::Result<Arc<dyn EventStore>> {
    Ok(Arc::new(PgStore::new(fresh_pg_pool().await?).await?))
}

/// A SQLite event store on a fresh file.
pub async fn sqlite_store() -> anyhow::Result<Arc<dyn EventStore>> {
    Ok(Arc::new(SqliteStore::new(fresh_sqlite_pool().await?)))
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL on a fresh schema.
    Postgres,
    /// SQLite on a fresh file.
    Sqlite,
}

/// An event store of `backend` on a fresh schema or file.
pub async fn store(backend: Backend) -> anyhow::Result<Arc<dyn EventStore>> {
    match backend {
        Backend::Postgres => pg_store().await,
        Backend::Sqlite => sqlite_store().await,
    }
}

/// Turns each `async fn case(backend: Backend)` named into two tests, one per
/// backend, in modules `postgres` and `sqlite`: what one backend promises, both do.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::Backend::Postgres).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::Backend::Sqlite).await;
                }
            )*
        }
    };
}

/// A store stamping times from `clock`, and the read-model database beside it.
pub async fn store_and_read_db(
    backend: Backend,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Arc<dyn EventStore>, Db)> {
    Ok(match backend {
        Backend::Postgres => {
            let pool = fresh_pg_pool().await?;
            (
                Arc::new(PgStore::with_clock(pool.clone(), clock).await?),
                Db::Pg(pool),
            )
        }
        Backend::Sqlite => {
            let pool = fresh_sqlite_pool().await?;
            (
                Arc::new(SqliteStore::with_clock(pool.clone(), clock)),
                Db::Sqlite(pool),
            )
        }
    })
}

/// Installs every projection and applies the whole log to it, batch by batch,
/// until every projection has reached the log's head. (The gap-safe horizon can
/// hold the newest events back for a moment behind another test's open
/// transaction: keep applying until they arrive, for at most 20 s.)
pub async fn project_everything(db: &Db, store: &dyn EventStore) -> anyhow::Result<()> {
    let head = store.head().await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    for p in roster_projections::all() {
        roster_projections::runner::ensure_installed(db, p.as_ref()).await?;
    }
    let all = roster_projections::all();
    let all: Vec<&dyn roster_projections::Projection> = all.iter().map(|p| p.as_ref()).collect();
    loop {
        while roster_projections::runner::apply_batch(db, store, &all, "", 500, None).await? > 0 {}
        let caught_up =
            roster_projections::queries::wait_for(db, head, std::time::Duration::ZERO).await?;
        if caught_up {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("the projections did not reach the log's head {head} within 20 s");
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
