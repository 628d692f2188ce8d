//! A sustained mixed workload against the real binary on PostgreSQL with a real
//! SMTP sink: invites, resends, accepts, role changes and list queries at a steady
//! pace for `ROSTER_SOAK_SECONDS` (default 600). Prints throughput, p50/p99 per
//! operation, errors (must be none), server memory over time (no growth trend) and
//! projection lag. Run by `scripts/soak`; ignored in the suite for its length.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use roster_commands::tokens::TokenKey;
use roster_domain::{InvitationId, SendId};
use roster_tests::binary::{call, Deployment, Org, SECRET};
use roster_tests::http::PASSWORD;
use serde_json::json;
use tokio::sync::Mutex;

/// Operations per 100: invite, accept, resend, change a role, list members, list invitations.
const MIX: [(&str, u32); 6] = [
    ("invite", 30),
    ("accept", 10),
    ("resend", 5),
    ("change_role", 10),
    ("list_members", 25),
    ("list_invitations", 20),
];

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Default)]
struct OrgState {
    pending: Vec<(String, Instant)>,
    members: Vec<(String, bool)>,
}

#[derive(Default)]
struct Tally {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    skipped: BTreeMap<&'static str, usize>,
    errors: Vec<String>,
}

fn quantile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

async fn lag_events(http: &reqwest::Client, base: &str) -> u64 {
    let Ok(res) = http.get(format!("{base}/metrics")).send().await else {
        return 0;
    };
    res.text()
        .await
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("roster_projection_lag_events{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "runs for minutes; scripts/soak"]
async fn a_sustained_mixed_workload_has_no_errors_and_no_memory_growth() {
    let seconds = env_number("ROSTER_SOAK_SECONDS", 600);
    let rate = env_number("ROSTER_SOAK_RATE", 25);
    let clients = 16usize;
    // One organization may send 200 invitations an hour: enough organizations
    // that the invitations of the whole run stay under that.
    let invites = rate * seconds * 30 / 100;
    let org_count = usize::try_from(invites / 150 + 2).unwrap_or(2);

    let d = Deployment::create().await.expect("deployment");
    let server = d.serve().await.expect("serve");
    let pid = server.child.id().expect("pid");
    let mut orgs: Vec<Org> = Vec::new();
    for n in 0..org_count {
        orgs.push(d.found(&server, n).await.expect("org"));
    }
    let states: Arc<Vec<Mutex<OrgState>>> =
        Arc::new((0..org_count).map(|_| Mutex::default()).collect());
    let tally = Arc::new(Mutex::new(Tally::default()));
    let key = TokenKey::new(SECRET.as_bytes().to_vec()).expect("key");
    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);

    // Memory and lag, every 10 s.
    let sampler = {
        let (http, base) = (reqwest::Client::new(), server.base.clone());
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while Instant::now() < end {
                samples.push((
                    started.elapsed().as_secs(),
                    rss_mib(pid),
                    lag_events(&http, &base).await,
                ));
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
            samples.push((
                started.elapsed().as_secs(),
                rss_mib(pid),
                lag_events(&http, &base).await,
            ));
            samples
        })
    };

    let mut tasks = Vec::new();
    for client in 0..clients {
        let (orgs, states, tally, key) = (orgs.clone(), states.clone(), tally.clone(), key.clone());
        let (base, pool) = (server.base.clone(), d.pool.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let interval = Duration::from_secs_f64(clients as f64 / rate as f64);
            let mut next = Instant::now() + interval.mul_f64(client as f64 / clients as f64);
            let mut n: u64 = 0;
            while Instant::now() < end {
                tokio::time::sleep_until(next.into()).await;
                next += interval;
                n += 1;
                let o = ((client as u64 * 7919 + n * 104_729) % orgs.len() as u64) as usize;
                let org = &orgs[o];
                let roll = ((client as u64 * 31 + n * 17) % 100) as u32;
                let mut acc = 0;
                let kind = MIX
                    .iter()
                    .find(|(_, w)| {
                        acc += w;
                        roll < acc
                    })
                    .map_or("list_members", |(k, _)| *k);
                let base_org = format!("{base}/api/orgs/{}", org.id);
                let asked = Instant::now();
                let result = match kind {
                    "invite" => {
                        let email = format!("c{client}-{n}@example.com");
                        match call(&http, "POST", format!("{base_org}/invitations"), Some(&org.session),
                            Some(json!({ "email": email, "full_name": "Sam Soak", "role": "standard" }))).await {
                            Ok((201, body)) => {
                                let id = body["invitation_id"].as_str().unwrap_or_default().to_owned();
                                states[o].lock().await.pending.push((id, Instant::now()));
                                Ok(true)
                            }
                            Ok((s, b)) => Err(format!("invite: {s} {b}")),
                            Err(e) => Err(format!("invite: {e}")),
                        }
                    }
                    "accept" => {
                        let picked = {
                            let mut st = states[o].lock().await;
                            if st.pending.is_empty() { None } else { Some(st.pending.remove(0)) }
                        };
                        match picked {
                            None => Ok(false),
                            Some((id, _)) => {
                                let send: Option<String> = sqlx::query_scalar(
                                    "SELECT payload->>'send_id' FROM events WHERE event_type IN ('UserInvited', 'InvitationResent') \
                                     AND payload->>'invitation_id' = $1 ORDER BY global_position DESC LIMIT 1")
                                    .bind(&id).fetch_optional(&pool).await.ok().flatten();
                                let token = match (id.parse::<InvitationId>(), send.as_deref().map(str::parse::<SendId>)) {
                                    (Ok(inv), Some(Ok(send))) => key.invitation_token(inv, send).expose().to_owned(),
                                    _ => String::new(),
                                };
                                match call(&http, "POST", format!("{base}/api/invitations/accept"), None,
                                    Some(json!({ "token": token, "full_name": "Sam Soak", "password": PASSWORD }))).await {
                                    Ok((201, body)) => {
                                        let user = body["user_id"].as_str().unwrap_or_default().to_owned();
                                        states[o].lock().await.members.push((user, false));
                                        Ok(true)
                                    }
                                    Ok((s, b)) => Err(format!("accept: {s} {b}")),
                                    Err(e) => Err(format!("accept: {e}")),
                                }
                            }
                        }
                    }
                    "resend" => {
                        let picked = {
                            let mut st = states[o].lock().await;
                            let ready = st.pending.iter().position(|(_, at)| at.elapsed() > Duration::from_secs(65));
                            ready.map(|i| {
                                st.pending[i].1 = Instant::now();
                                st.pending[i].0.clone()
                            })
                        };
                        match picked {
                            None => Ok(false),
                            Some(id) => match call(&http, "POST", format!("{base_org}/invitations/{id}/resend"),
                                Some(&org.session), Some(json!({}))).await {
                                Ok((200, _)) => Ok(true),
                                // It expired (15 minutes) before its turn: not an error of Roster's.
                                Ok((410, _)) => Ok(false),
                                Ok((s, b)) => Err(format!("resend: {s} {b}")),
                                Err(e) => Err(format!("resend: {e}")),
                            },
                        }
                    }
                    "change_role" => {
                        let picked = {
                            let mut st = states[o].lock().await;
                            let len = st.members.len();
                            if len == 0 { None } else {
                                let m = &mut st.members[(n as usize) % len];
                                m.1 = !m.1;
                                Some((m.0.clone(), if m.1 { "admin" } else { "standard" }))
                            }
                        };
                        match picked {
                            None => Ok(false),
                            Some((user, role)) => match call(&http, "PATCH", format!("{base_org}/members/{user}"),
                                Some(&org.session), Some(json!({ "role": role }))).await {
                                Ok((200, _)) => Ok(true),
                                Ok((s, b)) => Err(format!("change role: {s} {b}")),
                                Err(e) => Err(format!("change role: {e}")),
                            },
                        }
                    }
                    "list_members" => match call(&http, "GET", format!("{base_org}/members?limit=50"), Some(&org.session), None).await {
                        Ok((200, _)) => Ok(true),
                        Ok((s, b)) => Err(format!("members: {s} {b}")),
                        Err(e) => Err(format!("members: {e}")),
                    },
                    _ => match call(&http, "GET", format!("{base_org}/invitations"), Some(&org.session), None).await {
                        Ok((200, _)) => Ok(true),
                        Ok((s, b)) => Err(format!("invitations: {s} {b}")),
                        Err(e) => Err(format!("invitations: {e}")),
                    },
                };
                let took = asked.elapsed();
                let mut t = tally.lock().await;
                match result {
                    Ok(true) => t.latencies.entry(kind).or_default().push(took),
                    Ok(false) => *t.skipped.entry(kind).or_default() += 1,
                    Err(e) => t.errors.push(e),
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    let elapsed = started.elapsed();
    let samples = sampler.await.expect("sampler");
    d.projections_caught_up(Duration::from_secs(60))
        .await
        .expect("caught up at the end");
    let caught_up_after = started.elapsed() - elapsed;

    let tally = tally.lock().await;
    let total: usize = tally.latencies.values().map(Vec::len).sum();
    println!(
        "soak: {seconds} s, {clients} clients paced at {rate} ops/s, {org_count} organizations"
    );
    println!(
        "  {total} operations in {:.0} s = {:.1} ops/s; errors: {}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        tally.errors.len()
    );
    for (kind, lat) in &tally.latencies {
        let mut sorted = lat.clone();
        sorted.sort_unstable();
        println!(
            "  {kind:>16}: {:>6} ok, p50 {:>6.1} ms, p99 {:>6.1} ms{}",
            sorted.len(),
            quantile(&sorted, 0.5),
            quantile(&sorted, 0.99),
            tally
                .skipped
                .get(kind)
                .map(|s| format!(" ({s} had nothing to do)"))
                .unwrap_or_default()
        );
    }
    let rss: Vec<f64> = samples.iter().map(|s| s.1).collect();
    let lag_max = samples.iter().map(|s| s.2).max().unwrap_or(0);
    println!(
        "  server RSS MiB every 10 s: {}",
        rss.iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  projection lag: at most {lag_max} events in the samples; caught up {:.1} s after the load stopped",
        caught_up_after.as_secs_f64()
    );
    for e in tally.errors.iter().take(5) {
        println!("  error: {e}");
    }
    assert!(tally.errors.is_empty(), "{} errors", tally.errors.len());
    // No growth trend: the last third of the run uses no more memory than the
    // middle third, beyond noise.
    if rss.len() >= 6 {
        let third = rss.len() / 3;
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        let middle = mean(&rss[third..2 * third]);
        let last = mean(&rss[2 * third..]);
        println!("  RSS mean, middle third {middle:.1} MiB, last third {last:.1} MiB");
        assert!(
            last <= middle * 1.15 + 8.0,
            "memory grows: {middle:.1} → {last:.1} MiB"
        );
    }
    drop(server);
    d.remove().await;
}
