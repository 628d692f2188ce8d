//! Versioned SQL schema for both storage backends, embedded into the binary.
//!
//! One folder per backend (`postgres/`, `sqlite/`): the two dialects differ enough
//! (jsonb, transaction ids, AUTOINCREMENT) that sharing files would hide real
//! differences. Every change to the tables that hold data of record (the event log,
//! checkpoints, credentials, sessions, idempotency keys) is a new numbered file
//! here. Read-model tables are the exception by design: each projection creates
//! its own, versioned by the projection, and rebuilds them from the log when its
//! version changes — they are disposable copies of what the log says.

use sqlx::migrate::Migrator;

/// Migrations for the production PostgreSQL store.
pub static POSTGRES: Migrator = sqlx::migrate!("./postgres");

/// Migrations for the embedded SQLite store.
pub static SQLITE: Migrator = sqlx::migrate!("./sqlite");
