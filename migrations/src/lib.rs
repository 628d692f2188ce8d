//! Versioned SQL schema for both storage backends, embedded into the binary.
//!
//! One folder per backend (`postgres/`, `sqlite/`): the two dialects differ enough
//! (jsonb, transaction ids, AUTOINCREMENT) that sharing files would hide real
//! differences. Tables are never created at run time with `IF NOT EXISTS`; every
//! change is a new numbered file here.

use sqlx::migrate::Migrator;

/// Migrations for the production PostgreSQL store.
pub static POSTGRES: Migrator = sqlx::migrate!("./postgres");

/// Migrations for the embedded SQLite store.
pub static SQLITE: Migrator = sqlx::migrate!("./sqlite");
