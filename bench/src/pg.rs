//! The PostgreSQL side of a run: a fresh database per data set (dropped at the
//! end), the raw events-shaped table the baselines write to, and pgbench.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context as _};
use roster_eventstore::PgStore;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// A database made for this run; [`Scratch::drop_now`] removes it.
pub struct Scratch {
    admin: PgPool,
    /// Its name.
    pub name: String,
    /// Its URL, for the server and pgbench.
    pub url: String,
    /// A pool on it.
    pub pool: PgPool,
}

impl Scratch {
    /// Creates `roster_bench_<label>_<pid>` (after dropping any leftover of that name).
    pub async fn create(admin_url: &str, label: &str, connections: u32) -> anyhow::Result<Self> {
        let admin = PgPool::connect(admin_url)
            .await
            .with_context(|| format!("connecting to {admin_url}"))?;
        let name = format!("roster_bench_{label}_{}", std::process::id());
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await?;
        let url = with_database(admin_url, &name)?;
        // The store's own settings, as the server uses them, under a name of
        // its own: the server's connections are counted apart (`roster`).
        let options = PgStore::connect_options(&url)?.application_name("roster-bench");
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        Ok(Self {
            admin,
            name,
            url,
            pool,
        })
    }

    /// Drops the database.
    pub async fn drop_now(self) -> anyhow::Result<()> {
        self.pool.close().await;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&self.admin)
        .await?;
        Ok(())
    }
}

/// The baselines' table: the events table's columns, keys and indexes, with a
/// plain sequence for positions.
pub const RAW_TABLE: &str = "CREATE TABLE raw_events (
    global_position bigserial   PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL CHECK (schema_version > 0),
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    hash            bytea,
    UNIQUE (stream_id, stream_version)
)";

/// Runs pgbench with `script` for `seconds` over `clients` connections (prepared
/// statements, two threads as the machine has two cores); answers transactions/s.
pub async fn pgbench(
    url: &str,
    work: &Path,
    name: &str,
    script: &str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<f64> {
    let file = work.join(format!("{name}.sql"));
    std::fs::write(&file, script)?;
    let output = tokio::process::Command::new("pgbench")
        .arg("-n")
        .args(["-M", "prepared"])
        .args(["-c", &clients.to_string()])
        .args(["-j", "2"])
        .args(["-T", &seconds.to_string()])
        .arg("-f")
        .arg(&file)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .await
        .context("running pgbench (scripts/bench installs it)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let failed = text
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    if failed > 0 {
        bail!("pgbench: {failed} transactions failed:\n{text}");
    }
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no tps in pgbench output:\n{text}"))
}

/// `url` naming database `name` instead of its own (query parameters kept).
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    if host_part.len() <= scheme_end {
        bail!("not a PostgreSQL URL: {url}");
    }
    Ok(match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn swaps_the_database_and_keeps_the_rest() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "b")
                .ok()
                .as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/b")
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "b")
                .ok()
                .as_deref(),
            Some("postgres://u:p@h/b?sslmode=disable")
        );
        assert_eq!(
            with_database("postgres://h:5432", "b").ok().as_deref(),
            Some("postgres://h:5432/b")
        );
    }
}
