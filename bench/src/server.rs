//! The real `roster` binary, started on a bench database and reached over loopback.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tokio::process::{Child, Command};

/// A running server.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:port`.
    pub base: String,
}

/// The shared secret every bench server uses (tokens are derived from it).
const SECRET: &str = "roster-bench-secret-roster-bench-secret";

impl Server {
    /// Starts `roster serve` on `url` with its outbox under `work`, and waits for /readyz.
    pub async fn start(binary: &Path, url: &str, work: &Path) -> anyhow::Result<Self> {
        Self::start_with(binary, url, work, &[]).await
    }

    /// [`Server::start`] with `env` set as well (e.g. `SMTP_URL`).
    pub async fn start_with(
        binary: &Path,
        url: &str,
        work: &Path,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::start_logging(binary, url, work, env, None).await
    }

    /// [`Server::start_with`], its log (stderr) written to `log` when given.
    pub async fn start_logging(
        binary: &Path,
        url: &str,
        work: &Path,
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            ),
            None => Stdio::inherit(),
        };
        let outbox: PathBuf = work.join(format!("outbox-{port}"));
        let child = Command::new(binary)
            .arg("serve")
            .env("DATABASE_URL", url)
            .env("ROSTER_SECRET", SECRET)
            .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
            .env("ROSTER_OUTBOX", &outbox)
            .env(
                "RUST_LOG",
                std::env::var("ROSTER_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            // Last, so a case's own settings (its log level too) win.
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        server.wait_ready(Duration::from_secs(120)).await?;
        Ok(server)
    }

    async fn wait_ready(&self, within: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < within {
            if let Ok(r) = client.get(format!("{}/healthz", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server did not answer /healthz within {within:?}")
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Peak resident memory so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        self.memory_mib("VmHWM:")
    }

    /// Current resident memory (VmRSS), in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        self.memory_mib("VmRSS:")
    }

    /// A `kB` line of /proc/<pid>/status, in MiB.
    fn memory_mib(&self, field: &str) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }

    /// Stops it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Waits until every projection has reached the head of the log.
pub async fn caught_up(pool: &sqlx::PgPool, within: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let names: Vec<String> = roster_projections::all()
        .iter()
        .map(|p| p.name().to_owned())
        .collect();
    loop {
        let (head, behind, known): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT coalesce(max(global_position), 0) FROM events), \
                    (SELECT count(*) FROM projection_checkpoints \
                      WHERE position < (SELECT coalesce(max(global_position), 0) FROM events) \
                        AND name = ANY($1)), \
                    (SELECT count(*) FROM projection_checkpoints WHERE name = ANY($1))",
        )
        .bind(&names)
        .fetch_one(pool)
        .await?;
        if head == 0 || (behind == 0 && known >= names.len() as i64) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > within {
            bail!("projections still behind after {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the log has not grown for a second and every projection has
/// reached its head (background work such as email outcomes is done).
pub async fn settled(pool: &sqlx::PgPool, within: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let head = || async {
        sqlx::query_scalar::<_, i64>("SELECT coalesce(max(global_position), 0) FROM events")
            .fetch_one(pool)
            .await
    };
    let mut last = head().await?;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = head().await?;
        if now == last {
            caught_up(pool, within).await?;
            return Ok(started.elapsed());
        }
        if started.elapsed() > within {
            bail!("the log kept growing for {within:?}");
        }
        last = now;
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
