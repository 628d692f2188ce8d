//! `kill -9` of the real `roster` binary under a steady command load, on PostgreSQL
//! with a real SMTP sink: every command that was acknowledged is in the log; after a
//! restart the workers resume, no email is lost, and the read models equal a full
//! replay (`roster replay --verify`). Prints its figures (see docs/RELIABILITY.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roster_tests::smtp::SmtpSink;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::process::{Child, Command};

const SECRET: &str = "roster-fault-test-secret-roster-fault-test";
const PASSWORD: &str = "correct horse battery staple";
const CLIENTS: usize = 8;
const ORGS: usize = 4;

/// The `roster` binary `cargo test --workspace` built beside this test.
fn roster_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    dir.join("roster")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A database of its own (the binary is given a URL, not a schema).
struct FreshDatabase {
    admin: PgPool,
    name: String,
    url: String,
}

impl FreshDatabase {
    async fn create() -> Self {
        let admin = PgPool::connect(&roster_tests::pg_url())
            .await
            .expect("admin");
        let name = format!("roster_fault_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create database");
        let base = roster_tests::pg_url();
        let (server, _) = base.rsplit_once('/').expect("a database in the URL");
        let url = format!("{server}/{name}");
        Self { admin, name, url }
    }

    async fn drop_it(self) {
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&self.admin)
        .await;
    }
}

fn roster(url: &str, smtp: &str, public: &str) -> Command {
    let mut cmd = Command::new(roster_binary());
    cmd.env("DATABASE_URL", url)
        .env("ROSTER_SECRET", SECRET)
        .env("SMTP_URL", smtp)
        .env("ROSTER_PUBLIC_URL", public)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null());
    cmd
}

async fn serve(url: &str, smtp: &str) -> (Child, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = roster(url, smtp, &base)
        .arg("serve")
        .env("ROSTER_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("roster serve");
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}

async fn call(
    http: &reqwest::Client,
    method: &str,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Result<(u16, Value)> {
    let mut req = http.request(method.parse().expect("method"), url);
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

/// Founds organization `n` with the CLI; its owner accepts and signs in: (org, session).
async fn found(
    http: &reqwest::Client,
    url: &str,
    smtp: &str,
    base: &str,
    n: usize,
) -> (String, String) {
    let owner = format!("owner{n}@example.com");
    let created = roster(url, smtp, base)
        .args([
            "org",
            "create",
            "--name",
            &format!("Crash Test {n}"),
            "--shape",
            "single",
        ])
        .args(["--owner-email", &owner, "--owner-name", "Olive Owner"])
        .output()
        .await
        .expect("org create");
    assert!(created.status.success(), "{created:?}");
    let printed = String::from_utf8_lossy(&created.stdout).to_string();
    let link = printed
        .split_whitespace()
        .find(|w| w.contains("/invitations/"))
        .expect("an accept link");
    let token = link.rsplit('/').next().expect("token").to_owned();
    let (status, joined) = call(
        http,
        "POST",
        format!("{base}/api/invitations/accept"),
        None,
        Some(json!({ "token": token, "full_name": "Olive Owner", "password": PASSWORD })),
    )
    .await
    .expect("accept");
    assert_eq!(status, 201, "{joined}");
    let org = joined["org_id"].as_str().expect("org").to_owned();
    let (status, session) = call(
        http,
        "POST",
        format!("{base}/api/sessions"),
        None,
        Some(json!({ "email": owner, "password": PASSWORD })),
    )
    .await
    .expect("sign in");
    assert_eq!(status, 201, "{session}");
    (org, session["token"].as_str().expect("token").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_under_load_loses_no_acknowledged_command_and_no_email() {
    let db = FreshDatabase::create().await;
    let sink = SmtpSink::start().await.expect("smtp");
    let http = reqwest::Client::new();
    let (mut first, base) = serve(&db.url, &sink.url()).await;

    // Organizations with signed-in owners, founded with the operator's CLI (one
    // organization may send 200 invitations an hour: the load is spread).
    let mut orgs = Vec::new();
    for n in 0..ORGS {
        orgs.push(found(&http, &db.url, &sink.url(), &base, n).await);
    }

    // A steady load of invitations from 8 clients; the server is killed mid-way.
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (org, session) = orgs[client % ORGS].clone();
        let (http, base, stop) = (http.clone(), base.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let (mut sent, mut acked, mut failed) = (0usize, Vec::new(), 0usize);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let email = format!("p{client}-{i}@example.com");
                i += 1;
                sent += 1;
                match call(
                    &http,
                    "POST",
                    format!("{base}/api/orgs/{org}/invitations"),
                    Some(&session),
                    Some(json!({ "email": email, "full_name": "Pat Person", "role": "standard" })),
                )
                .await
                {
                    Ok((201, _)) => acked.push(email),
                    // The organization's hourly sending limit: this client is done.
                    Ok((429, _)) => break,
                    Ok((status, body)) => panic!("an invitation was refused: {status} {body}"),
                    Err(_) => {
                        failed += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            (sent, acked, failed)
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill().await.expect("kill -9");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut sent, mut acked, mut failed) = (0, BTreeSet::new(), 0);
    for c in clients {
        let (s, a, f) = c.await.expect("client");
        sent += s;
        acked.extend(a);
        failed += f;
    }
    assert!(
        acked.len() > 20,
        "the load ran before the kill ({} acknowledged)",
        acked.len()
    );

    // Every acknowledged command is in the log.
    let pool = PgPool::connect(&db.url).await.expect("pool");
    let logged: BTreeSet<String> = sqlx::query_scalar(
        "SELECT payload->>'email' FROM events WHERE event_type = 'UserInvited' AND payload->>'email' NOT LIKE 'owner%'",
    )
    .fetch_all(&pool)
    .await
    .expect("log")
    .into_iter()
    .collect();
    let lost: Vec<_> = acked.difference(&logged).collect();
    assert!(lost.is_empty(), "acknowledged but not in the log: {lost:?}");

    // A new server resumes: the read models catch up and every email goes out.
    let (mut second, base) = serve(&db.url, &sink.url()).await;
    let started = Instant::now();
    let pending = loop {
        let mut listed = 0;
        for (org, session) in &orgs {
            let (status, body) = call(
                &http,
                "GET",
                format!("{base}/api/orgs/{org}/invitations"),
                Some(session),
                None,
            )
            .await
            .expect("list");
            assert_eq!(status, 200, "{body}");
            listed += body["invitations"].as_array().map_or(0, Vec::len);
        }
        if listed == logged.len() {
            break listed;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the pending list shows {listed} of {} invitations",
            logged.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    let started = Instant::now();
    loop {
        received.clear();
        for m in sink.messages() {
            for to in &m.to {
                let to = to.trim_matches(|c| c == '<' || c == '>').to_owned();
                *received.entry(to).or_default() += 1;
            }
        }
        if logged.iter().all(|e| received.contains_key(e)) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "emails missing: {:?}",
            logged
                .iter()
                .filter(|e| !received.contains_key(*e))
                .take(5)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let duplicates: usize = logged
        .iter()
        .map(|e| received.get(e).copied().unwrap_or(0).saturating_sub(1))
        .sum();

    // Quiet, the read models equal a replay of the whole log.
    let settle = Instant::now();
    loop {
        let behind: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM projection_checkpoints \
             WHERE position < (SELECT coalesce(max(global_position), 0) FROM events)",
        )
        .fetch_one(&pool)
        .await
        .expect("checkpoints");
        if behind == 0 {
            break;
        }
        assert!(
            settle.elapsed() < Duration::from_secs(30),
            "projections lag"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    second.kill().await.expect("stop");
    let verify = roster(&db.url, &sink.url(), &base)
        .args(["replay", "--verify"])
        .output()
        .await
        .expect("replay --verify");
    assert!(
        verify.status.success(),
        "the read models differ from a replay:\n{}\n{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    println!(
        "kill -9 under load: {sent} commands sent, {} acknowledged, {} in the log ({} recorded but not acknowledged), \
         {failed} failed while down; {pending} pending invitations listed after restart; \
         {} emails expected, all delivered ({duplicates} duplicates); replay --verify: equal",
        acked.len(),
        logged.len(),
        logged.len() - acked.len(),
        logged.len(),
    );
    pool.close().await;
    db.drop_it().await;
}
