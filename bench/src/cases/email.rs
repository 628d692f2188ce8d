//! Many invitations made at once, and how long after the last one was answered
//! every invitation email has been accepted by a local SMTP server; then how many
//! SQL statements one invitation costs, from its request to its recorded email.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roster_eventstore::{EventStore, PgStore};
use roster_storage::Db;
use serde_json::json;

use crate::pg::Scratch;
use crate::report::{CaseResult, Goal};
use crate::seed::{self, OrgSeed};
use crate::server::{self, Server};
use crate::smtp::Sink;
use crate::Settings;

/// Organizations, invitations in all, and clients sending them.
const ORGS: usize = 10;
const INVITATIONS: usize = 1_000;
const CLIENTS: usize = 16;

/// The budget: every email accepted within this long after the last 201.
const BUDGET_S: f64 = 10.0;

/// Invitations made (as in the burst) for the statement count.
const COUNTED: usize = 500;

/// The email cases on their own database.
pub async fn run(settings: &Settings) -> anyhow::Result<Vec<CaseResult>> {
    let db = Scratch::create(&settings.admin_url, "email", 8).await?;
    roster_migrations::POSTGRES.run(&db.pool).await?;
    let store: Arc<dyn EventStore> = Arc::new(PgStore::new(db.pool.clone()).await?);
    let mut streams = Vec::new();
    let mut owners = Vec::new();
    for _ in 0..ORGS {
        let s = OrgSeed::new(seed::now())?;
        owners.push((s.org, s.owner));
        streams.push((s.org, s.events));
    }
    seed::append_all(store, streams, 4).await?;
    seed::emails_already_sent(&db.pool).await?;
    let users: Vec<_> = owners.iter().map(|(_, u)| *u).collect();
    let tokens = seed::sessions_for(&Db::Pg(db.pool.clone()), &users).await?;
    let orgs: Arc<Vec<(String, String)>> = Arc::new(
        owners
            .iter()
            .zip(tokens)
            .map(|((org, _), token)| (org.to_string(), token))
            .collect(),
    );

    let sink = Sink::start().await?;
    let server = Server::start_with(
        &settings.roster,
        &db.url,
        &settings.work,
        &[("SMTP_URL", sink.url.as_str())],
    )
    .await?;
    server::caught_up(&db.pool, Duration::from_secs(120)).await?;

    let started = Instant::now();
    let (created, last_created) = burst(&server.base, &orgs, INVITATIONS, "invitee").await?;
    let invitations_s = last_created.duration_since(started).as_secs_f64();
    let give_up = Instant::now() + Duration::from_secs(180);
    while sink.arrivals().len() < created && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arrivals = sink.arrivals();
    let all_arrived = arrivals.len() >= created;
    let last_email = arrivals.iter().max().copied().unwrap_or(last_created);
    let after_s = last_email
        .saturating_duration_since(last_created)
        .as_secs_f64();
    server.stop().await;
    let burst = CaseResult::new(
        "invitation_emails_after_a_burst",
        after_s,
        BUDGET_S,
        "s after the last 201",
        Goal::AtMost(1.0),
        all_arrived && created == INVITATIONS,
        json!({
            "organizations": ORGS,
            "clients": CLIENTS,
            "invitations_created": created,
            "emails_accepted": arrivals.len(),
            "invitations_took_s": invitations_s,
            "emails_per_s_after_the_burst": if after_s > 0.0 { arrivals.len() as f64 / (after_s + invitations_s) } else { f64::NAN },
            "baseline_is": "the 10 s budget",
        }),
    );
    let statements = statements_per_invitation(settings, &db, &orgs, &sink).await?;
    db.drop_now().await?;
    Ok(vec![burst, statements])
}

/// `n` invitations from [`CLIENTS`] clients at once, spread over `orgs`
/// (addresses `<prefix><k>@example.com`): how many were created, and when the
/// last 201 arrived.
async fn burst(
    base: &str,
    orgs: &Arc<Vec<(String, String)>>,
    n: usize,
    prefix: &str,
) -> anyhow::Result<(usize, Instant)> {
    let next = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (next, created, orgs, http, base, prefix) = (
            next.clone(),
            created.clone(),
            orgs.clone(),
            http.clone(),
            base.to_owned(),
            prefix.to_owned(),
        );
        clients.push(tokio::spawn(async move {
            let mut last = None;
            loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                if k >= n {
                    return last;
                }
                let (org, token) = &orgs[k % orgs.len()];
                let answer = http
                    .post(format!("{base}/api/orgs/{org}/invitations"))
                    .bearer_auth(token)
                    .json(&json!({
                        "email": format!("{prefix}{k}@example.com"),
                        "full_name": "Ina Vitee",
                        "role": "standard",
                    }))
                    .send()
                    .await;
                if answer.is_ok_and(|a| a.status().as_u16() == 201) {
                    created.fetch_add(1, Ordering::SeqCst);
                    last = Some(Instant::now());
                }
            }
        }));
    }
    let mut last_created = started;
    for client in clients {
        if let Some(at) = client.await? {
            last_created = last_created.max(at);
        }
    }
    Ok((created.load(Ordering::SeqCst), last_created))
}

/// SQL statements per invitation, everything counted: the request (session,
/// access, append), the projector's share of its batches and the email
/// sender's (reads, outcomes, checkpoints), `BEGIN` and `COMMIT` included. A
/// server logs every statement it sends (sqlx's statement log); [`COUNTED`]
/// invitations are made as in the burst above, every email is waited for and
/// the server waited out until it is quiet again, and what it sends while idle
/// for as long is subtracted.
async fn statements_per_invitation(
    settings: &Settings,
    db: &Scratch,
    orgs: &Arc<Vec<(String, String)>>,
    sink: &Sink,
) -> anyhow::Result<CaseResult> {
    const GOAL: f64 = 4.0;
    let log = settings.work.join("statements.log");
    let server = Server::start_logging(
        &settings.roster,
        &db.url,
        &settings.work,
        &[
            ("SMTP_URL", sink.url.as_str()),
            ("RUST_LOG", "warn,sqlx::query=debug"),
        ],
        Some(&log),
    )
    .await?;
    server::caught_up(&db.pool, Duration::from_secs(120)).await?;
    quiet(&log).await?;
    let idle_from = statements_in(&log)?;
    let idle_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = statements_in(&log)?.since(&idle_from);
    let idle_s = idle_started.elapsed().as_secs_f64();

    let before = statements_in(&log)?;
    let arrived = sink.arrivals().len();
    let started = Instant::now();
    let (created, _) = burst(&server.base, orgs, COUNTED, "counted").await?;
    anyhow::ensure!(
        created == COUNTED,
        "{created} of {COUNTED} invitations made"
    );
    let give_up = Instant::now() + Duration::from_secs(120);
    while sink.arrivals().len() < arrived + COUNTED && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server::caught_up(&db.pool, Duration::from_secs(60)).await?;
    // The outcomes' appends and the sender's checkpoints follow the emails.
    quiet(&log).await?;
    let busy_s = started.elapsed().as_secs_f64();
    let counted = statements_in(&log)?.since(&before);
    server.stop().await;
    // Kept beside the table, to see which statements they were.
    if let Some(dir) = &settings.keep {
        std::fs::copy(&log, dir.join("statements.log"))?;
    }
    let idle_share = idle.total as f64 * busy_s / idle_s.max(0.001);
    let per_invitation = (counted.total as f64 - idle_share).max(0.0) / COUNTED as f64;
    Ok(CaseResult::new(
        "statements_per_invitation",
        per_invitation,
        GOAL,
        "statements",
        Goal::AtMost(1.0),
        per_invitation <= GOAL,
        json!({
            "invitations": COUNTED,
            "clients": CLIENTS,
            "statements_logged": counted.total,
            "seconds": busy_s,
            "idle_statements_per_s": idle.total as f64 / idle_s.max(0.001),
            "idle_share_subtracted": idle_share,
            "by_kind_per_invitation": counted.per(COUNTED),
            "baseline_is": "the goal of 4",
        }),
    ))
}

/// Waits (30 s at most) until the server logs fewer than 20 statements in a
/// second: whatever it was catching up on is done.
async fn quiet(log: &std::path::Path) -> anyhow::Result<()> {
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut last = statements_in(log)?.total;
    while Instant::now() < give_up {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = statements_in(log)?.total;
        if now - last < 20 {
            return Ok(());
        }
        last = now;
    }
    Ok(())
}

/// Statements a server's log holds, by their first word.
#[derive(Debug, Default, Clone)]
struct Statements {
    total: u64,
    kinds: std::collections::BTreeMap<String, u64>,
}

impl Statements {
    fn since(&self, earlier: &Statements) -> Statements {
        let mut kinds = self.kinds.clone();
        for (kind, n) in &earlier.kinds {
            if let Some(k) = kinds.get_mut(kind) {
                *k = k.saturating_sub(*n);
            }
        }
        Statements {
            total: self.total.saturating_sub(earlier.total),
            kinds,
        }
    }

    fn per(&self, n: usize) -> serde_json::Value {
        self.kinds
            .iter()
            .filter(|(_, c)| **c > 0)
            .map(|(k, c)| (k.clone(), json!(*c as f64 / n as f64)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// Counts the statements in sqlx's statement log at `path` (ANSI colours
/// stripped): one `sqlx::query` event per statement, its `summary` first.
fn statements_in(path: &std::path::Path) -> anyhow::Result<Statements> {
    let raw = std::fs::read(path)?;
    let text = strip_ansi(&String::from_utf8_lossy(&raw));
    let mut found = Statements::default();
    for event in text.split("sqlx::query").skip(1) {
        found.total += 1;
        let kind = event
            .split_once("summary=\"")
            .map(|(_, rest)| {
                rest.split(|c: char| !c.is_ascii_alphabetic())
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase()
            })
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "OTHER".to_owned());
        *found.kinds.entry(kind).or_default() += 1;
    }
    Ok(found)
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
