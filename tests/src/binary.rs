//! The real `roster` binary as child processes on a database of their own, for
//! fault tests that kill, restart and double servers: the CLI, `serve`, a steady
//! invitation load, and what the log and the SMTP sink say afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::process::{Child, Command};

use crate::http::PASSWORD;
use crate::smtp::SmtpSink;

/// The secret every fault-test server shares (links are derived from it).
pub const SECRET: &str = "roster-fault-test-secret-roster-fault-test";

/// The `roster` binary beside the tests (`target/debug/roster`). The tests that
/// start it are the root package's integration tests, so `cargo test` (also
/// `cargo test --test suite fault_`) builds it first, in the same invocation.
pub fn roster_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let binary = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("roster"))
        .unwrap_or_else(|| PathBuf::from("roster"));
    assert!(
        binary.exists(),
        "{} is missing: run the tests with `cargo test` from the workspace root, which builds it",
        binary.display()
    );
    binary
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A database of its own on the test PostgreSQL (the binary takes a URL, not a
/// schema), with the SMTP sink its servers mail to.
pub struct Deployment {
    admin: PgPool,
    name: String,
    /// `postgres://…/roster_fault_<uuid>`.
    pub url: String,
    /// Where every server's emails arrive.
    pub sink: SmtpSink,
    /// A pool on the deployment's database, to read the log directly.
    pub pool: PgPool,
    /// Extra environment for every server (e.g. `ROSTER_INVITE_TTL`).
    pub env: Vec<(String, String)>,
}

impl Deployment {
    /// Creates the database on the test PostgreSQL and starts the sink.
    pub async fn create() -> anyhow::Result<Self> {
        Self::create_on(&crate::pg_url()).await
    }

    /// Creates the database on the server `admin_url` names and starts the sink.
    pub async fn create_on(admin_url: &str) -> anyhow::Result<Self> {
        let admin = PgPool::connect(admin_url).await?;
        let name = format!("roster_fault_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await?;
        let base = admin_url.to_owned();
        let (server, _) = base
            .rsplit_once('/')
            .ok_or_else(|| anyhow::anyhow!("no database in {base}"))?;
        let url = format!("{server}/{name}");
        let sink = SmtpSink::start().await?;
        // Migrated by the first server; the pool connects lazily.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_lazy(&url)?;
        Ok(Self {
            admin,
            name,
            url,
            sink,
            pool,
            env: Vec::new(),
        })
    }

    /// The binary with this deployment's settings; `public` is the links' base.
    pub fn roster(&self, public: &str) -> Command {
        let mut cmd = Command::new(roster_binary());
        cmd.env("DATABASE_URL", &self.url)
            .env("ROSTER_SECRET", SECRET)
            .env("SMTP_URL", self.sink.url())
            .env("ROSTER_PUBLIC_URL", public)
            .env("RUST_LOG", "error")
            // A small budget, as tests on a shared PostgreSQL must keep.
            .env("ROSTER_DB_CONNECTIONS", "8")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        cmd
    }

    /// Connections PostgreSQL has open to this deployment's database, from any
    /// process (its own `pool` included, when that has connected).
    pub async fn open_connections(&self) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
                .bind(&self.name)
                .fetch_one(&self.admin)
                .await?,
        )
    }

    /// What each connection to this deployment's database is doing (for messages).
    pub async fn connection_states(&self) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT coalesce(state, '?') || ': ' || left(query, 60) FROM pg_stat_activity WHERE datname = $1",
        )
        .bind(&self.name)
        .fetch_all(&self.admin)
        .await?)
    }

    /// Starts `roster serve` on a free port and waits until it is ready.
    pub async fn serve(&self) -> anyhow::Result<Server> {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let child = self
            .roster(&base)
            .arg("serve")
            .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Server { child, base })
    }

    /// Founds organization `n` with the operator's CLI; its owner accepts the
    /// printed link on `server` and signs in.
    pub async fn found(&self, server: &Server, n: usize) -> anyhow::Result<Org> {
        let owner = format!("owner{n}@example.com");
        let created = self
            .roster(&server.base)
            .args(["org", "create", "--name", &format!("Fault Test {n}")])
            .args(["--shape", "single", "--owner-email", &owner])
            .args(["--owner-name", "Olive Owner"])
            .output()
            .await?;
        anyhow::ensure!(created.status.success(), "org create: {created:?}");
        let printed = String::from_utf8_lossy(&created.stdout).to_string();
        let token = printed
            .split_whitespace()
            .find(|w| w.contains("/invitations/"))
            .and_then(|link| link.rsplit('/').next())
            .ok_or_else(|| anyhow::anyhow!("no link in {printed}"))?
            .to_owned();
        let http = reqwest::Client::new();
        let (status, joined) = call(
            &http,
            "POST",
            format!("{}/api/invitations/accept", server.base),
            None,
            Some(json!({ "token": token, "full_name": "Olive Owner", "password": PASSWORD })),
        )
        .await?;
        anyhow::ensure!(status == 201, "accept: {joined}");
        let (status, session) = call(
            &http,
            "POST",
            format!("{}/api/sessions", server.base),
            None,
            Some(json!({ "email": owner, "password": PASSWORD })),
        )
        .await?;
        anyhow::ensure!(status == 201, "sign in: {session}");
        Ok(Org {
            id: joined["org_id"].as_str().unwrap_or_default().to_owned(),
            session: session["token"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// The addresses invited in the log (owners founded by the CLI left out).
    pub async fn invited_in_log(&self) -> anyhow::Result<BTreeSet<String>> {
        Ok(sqlx::query_scalar(
            "SELECT payload->>'email' FROM events \
             WHERE event_type = 'UserInvited' AND payload->>'email' NOT LIKE 'owner%'",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .collect())
    }

    /// How many emails each address received.
    pub fn received(&self) -> BTreeMap<String, usize> {
        let mut received = BTreeMap::new();
        for m in self.sink.messages() {
            for to in &m.to {
                let to = to.trim_matches(|c| c == '<' || c == '>').to_owned();
                *received.entry(to).or_default() += 1;
            }
        }
        received
    }

    /// Waits until every projection's checkpoint is at the log's head.
    pub async fn projections_caught_up(&self, within: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let behind: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM projection_checkpoints \
                 WHERE position < (SELECT coalesce(max(global_position), 0) FROM events)",
            )
            .fetch_one(&self.pool)
            .await?;
            if behind == 0 {
                return Ok(());
            }
            anyhow::ensure!(started.elapsed() < within, "projections still lag");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `roster replay --verify`: true when the read models equal a full replay.
    pub async fn replay_verifies(&self) -> anyhow::Result<(bool, String)> {
        let out = self
            .roster("http://127.0.0.1")
            .args(["replay", "--verify"])
            .output()
            .await?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    /// Drops the database.
    pub async fn remove(self) {
        self.pool.close().await;
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&self.admin)
        .await;
    }
}

/// A PostgreSQL server of a test's own (a fresh cluster in a temporary folder,
/// on a free port), so that it can be stopped and started without disturbing the
/// other tests. Run as the `postgres` user when the tests run as root.
pub struct PrivatePostgres {
    dir: PathBuf,
    bin: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl PrivatePostgres {
    /// Creates the cluster and starts it.
    pub async fn start() -> anyhow::Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists())
            .max()
            .ok_or_else(|| {
                anyhow::anyhow!("no PostgreSQL server binaries under /usr/lib/postgresql")
            })?;
        let dir = std::env::temp_dir().join(format!("roster-pg-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir)?;
        let me = Self {
            dir,
            bin,
            port: free_port(),
        };
        if as_root() {
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&me.dir)
                .status()
                .await?;
            anyhow::ensure!(chown.success(), "chown of the cluster folder failed");
        }
        let data = me.dir.join("data");
        let init = me
            .pg_command("initdb")
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(&data)
            .output()
            .await?;
        anyhow::ensure!(init.status.success(), "initdb: {init:?}");
        me.resume().await?;
        Ok(me)
    }

    fn pg_command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        let mut cmd = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        cmd.stdin(Stdio::null());
        cmd
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts (again) and waits until it accepts connections.
    pub async fn resume(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let out = self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-o", &options, "-l"])
            .arg(self.dir.join("log"))
            .args(["-w", "start"])
            .output()
            .await?;
        anyhow::ensure!(out.status.success(), "pg_ctl start: {out:?}");
        Ok(())
    }

    /// Stops it (fast: open connections are cut, as in a restart).
    pub async fn halt(&self) -> anyhow::Result<()> {
        let out = self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .output()
            .await?;
        anyhow::ensure!(out.status.success(), "pg_ctl stop: {out:?}");
        Ok(())
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.dir.join("data");
        let mut cmd = if as_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_ctl);
            c
        } else {
            std::process::Command::new(pg_ctl)
        };
        let _ = cmd
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A running `roster serve`.
pub struct Server {
    /// The process; dropping it kills it.
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Server {
    /// `kill -9`.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

/// An organization and its owner's session.
#[derive(Debug, Clone)]
pub struct Org {
    /// Its id.
    pub id: String,
    /// The owner's Bearer token.
    pub session: String,
}

/// One API call; a transport failure is an `Err` (the server is gone).
pub async fn call(
    http: &reqwest::Client,
    method: &str,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Result<(u16, Value)> {
    let mut req = http.request(method.parse().unwrap_or(reqwest::Method::GET), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    let value = res.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, value))
}

/// What a load saw.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    /// Requests sent.
    pub sent: usize,
    /// Addresses whose invitation got a 201.
    pub acknowledged: BTreeSet<String>,
    /// Requests that got no answer (the server was down).
    pub unanswered: usize,
    /// Requests answered 503 (the database was out of reach).
    pub unavailable: usize,
}

/// Invites unique addresses into `orgs` from `clients` tasks, each sending to
/// `bases[client % bases.len()]`, until `stop` is set or an organization's hourly
/// sending limit (429) ends that client. Any other refusal fails the test.
pub fn invitation_load(
    clients: usize,
    bases: Vec<String>,
    orgs: Vec<Org>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<LoadOutcome> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut tasks = Vec::new();
        for client in 0..clients {
            let (http, stop) = (http.clone(), stop.clone());
            let base = bases[client % bases.len()].clone();
            let org = orgs[client % orgs.len()].clone();
            tasks.push(tokio::spawn(async move {
                let mut out = LoadOutcome::default();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let email = format!("p{client}-{i}@example.com");
                    i += 1;
                    out.sent += 1;
                    match call(
                        &http,
                        "POST",
                        format!("{base}/api/orgs/{}/invitations", org.id),
                        Some(&org.session),
                        Some(json!({ "email": email, "full_name": "Pat Person", "role": "standard" })),
                    )
                    .await
                    {
                        Ok((201, _)) => {
                            out.acknowledged.insert(email);
                        }
                        Ok((429, _)) => break,
                        // The database is out of reach: nothing was done; retry.
                        Ok((503, _)) => {
                            out.unavailable += 1;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Ok((status, body)) => panic!("an invitation was refused: {status} {body}"),
                        Err(_) => {
                            out.unanswered += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                out
            }));
        }
        let mut total = LoadOutcome::default();
        for t in tasks {
            if let Ok(out) = t.await {
                total.sent += out.sent;
                total.acknowledged.extend(out.acknowledged);
                total.unanswered += out.unanswered;
                total.unavailable += out.unavailable;
            }
        }
        total
    })
}
