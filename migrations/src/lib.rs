//! Versioned SQL schema for both storage backends, embedded into the binary.
//!
//! One folder per backend (`postgres/`, `sqlite/`): the two dialects differ enough
//! (jsonb, transaction ids, AUTOINCREMENT) that sharing files would hide real
//! differences. Every change to the tables that hold data of record (the event log,
//! checkpoints, credentials, sessions, idempotency keys) is a new numbered file
//! here. Read-model tables are the exception by design: each projection creates
//! its own, versioned by the projection, and rebuilds them from the log when its
//! version changes — they are disposable copies of what the log says.

use std::borrow::Cow;
use std::sync::LazyLock;

use sqlx::migrate::{Migration, MigrationType, Migrator};

mod files {
    include!(concat!(env!("OUT_DIR"), "/files.rs"));
}

/// Migrations for the production PostgreSQL store.
pub static POSTGRES: LazyLock<Migrator> = LazyLock::new(|| migrator(files::POSTGRES));

/// Migrations for the embedded SQLite store.
pub static SQLITE: LazyLock<Migrator> = LazyLock::new(|| migrator(files::SQLITE));

/// A migrator over embedded files, as sqlx's `migrate!` builds it: each file
/// runs in a transaction unless it starts with `-- no-transaction`, and its
/// checksum is the SHA-384 of its text, so databases migrated before keep
/// matching.
fn migrator(files: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            files
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        sql.starts_with("-- no-transaction"),
                    )
                })
                .collect(),
        ),
        ..Migrator::DEFAULT
    }
}
