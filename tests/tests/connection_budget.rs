//! The real binary keeps to its PostgreSQL connection budget: `ROSTER_DB_CONNECTIONS`
//! is the most it ever opens, all pools, the change listener and the leadership
//! session together, and a quiet instance holds at most four.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use roster_tests::binary::{call, Deployment};
use serde_json::json;

async fn open(d: &Deployment) -> i64 {
    d.open_connections().await.expect("pg_stat_activity")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_keeps_to_its_connection_budget_at_rest_and_under_load() {
    const BUDGET: i64 = 8;
    let mut d = Deployment::create().await.expect("deployment");
    d.env
        .push(("ROSTER_DB_CONNECTIONS".into(), BUDGET.to_string()));
    d.env.push(("ROSTER_DB_IDLE_TIMEOUT".into(), "1s".into()));
    let server = d.serve().await.expect("serve");
    let org = d.found(&server, 0).await.expect("org");
    // At rest: no request in flight, the idle timeout passed; the followers
    // still look at the log now and then, so take the usual count of ten looks.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut looks = Vec::new();
    for _ in 0..10 {
        looks.push(open(&d).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    looks.sort_unstable();
    let at_rest = looks[looks.len() / 2];
    assert!(
        at_rest <= 4,
        "{at_rest} connections at rest: {:?}",
        d.connection_states().await
    );

    // Under load: 64 clients invite and read at once while a sampler watches.
    // (The count includes the sampler's own look: one connection on the admin
    // database, not this one.)
    let most = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let d = Arc::new(d);
    let sampler = {
        let (most, done, d) = (most.clone(), done.clone(), d.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                most.fetch_max(open(&d).await, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let http = reqwest::Client::new();
    let mut clients = Vec::new();
    for c in 0..64 {
        let (http, base) = (http.clone(), server.base.clone());
        let (org, token) = (org.id.clone(), org.session.clone());
        clients.push(tokio::spawn(async move {
            for i in 0..4 {
                let (status, body) = call(
                    &http,
                    "POST",
                    format!("{base}/api/orgs/{org}/invitations"),
                    Some(&token),
                    Some(json!({
                        "email": format!("load{c}-{i}@example.com"),
                        "full_name": "Load Test",
                        "role": "standard",
                    })),
                )
                .await
                .expect("invite");
                // The organization's hourly sending limit refuses some: still a
                // command decided against the log.
                assert!(status == 201 || status == 429, "{status} {body}");
                let (status, _) = call(&http, "GET", format!("{base}/api/me"), Some(&token), None)
                    .await
                    .expect("me");
                assert_eq!(status, 200);
            }
        }));
    }
    for c in clients {
        c.await.expect("client");
    }
    done.store(true, Ordering::SeqCst);
    sampler.await.expect("sampler");
    let most = most.load(Ordering::SeqCst);
    assert!(
        most <= BUDGET,
        "{most} connections under load, budget {BUDGET}"
    );
    assert!(most > at_rest, "the load was felt ({most} > {at_rest})");
}
