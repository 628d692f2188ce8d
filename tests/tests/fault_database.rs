//! PostgreSQL restarted in the middle of a command load (a private cluster, so
//! the other tests keep theirs): while it is down the server answers 503 problems
//! with `Retry-After`; it recovers by itself, without a restart, and loses no
//! acknowledged write. Prints its figures (docs/RELIABILITY.md).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roster_tests::binary::{call, invitation_load, Deployment, PrivatePostgres};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_mid_load_gets_503s_then_recovers_without_losing_a_write() {
    let pg = PrivatePostgres::start().await.expect("private PostgreSQL");
    let d = Deployment::create_on(&pg.admin_url())
        .await
        .expect("deployment");
    let server = d.serve().await.expect("serve");
    let mut orgs = Vec::new();
    for n in 0..3 {
        orgs.push(d.found(&server, n).await.expect("org"));
    }
    // The load uses two organizations; the probes the third (one organization
    // may send 200 invitations an hour).
    let probe = orgs.pop().expect("probe org");
    let stop = Arc::new(AtomicBool::new(false));
    let load = invitation_load(4, vec![server.base.clone()], orgs.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Down for three seconds: what does a client see?
    pg.halt().await.expect("stop PostgreSQL");
    let down = Instant::now();
    let http = reqwest::Client::new();
    let mut seen = std::collections::BTreeMap::<u16, usize>::new();
    let mut retry_after = true;
    let mut problem_documents = true;
    let mut slowest = Duration::ZERO;
    while down.elapsed() < Duration::from_secs(3) {
        let asked = Instant::now();
        let res = http
            .post(format!(
                "{}/api/orgs/{}/invitations",
                server.base, orgs[0].id
            ))
            .bearer_auth(&orgs[0].session)
            .json(
                &json!({ "email": "probe@example.com", "full_name": "Probe", "role": "standard" }),
            )
            .send()
            .await
            .expect("the server answers while its database is down");
        let status = res.status().as_u16();
        slowest = slowest.max(asked.elapsed());
        *seen.entry(status).or_default() += 1;
        if status == 503 {
            retry_after &= res.headers().contains_key("retry-after");
            problem_documents &= res
                .headers()
                .get("content-type")
                .is_some_and(|v| v == "application/problem+json");
        }
        let ready = http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .expect("readyz");
        *seen.entry(1000 + ready.status().as_u16()).or_default() += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pg.resume().await.expect("start PostgreSQL again");
    let up = Instant::now();

    // It recovers by itself: a command succeeds again, on the same process.
    let recovered = loop {
        let (status, body) = call(
            &http,
            "POST",
            format!("{}/api/orgs/{}/invitations", server.base, probe.id),
            Some(&probe.session),
            Some(json!({ "email": "after@example.com", "full_name": "After", "role": "standard" })),
        )
        .await
        .expect("answer");
        if status == 201 {
            break up.elapsed();
        }
        assert!(
            up.elapsed() < Duration::from_secs(30),
            "no recovery: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let load = load.await.expect("load");

    let statuses: Vec<_> = seen.keys().filter(|s| **s < 1000).copied().collect();
    assert!(
        statuses.iter().all(|s| *s == 503),
        "while the database was down, commands got {seen:?} (503 only, never 500)"
    );
    assert!(seen.contains_key(&503), "{seen:?}");
    assert!(retry_after, "every 503 says Retry-After");
    assert!(problem_documents, "every 503 is a problem document");
    assert!(
        seen.keys().filter(|s| **s >= 1000).all(|s| *s == 1503),
        "readiness says not ready while down: {seen:?}"
    );

    // No acknowledged write was lost; the read models catch up and equal a replay.
    let logged = d.invited_in_log().await.expect("log");
    let lost: Vec<_> = load.acknowledged.difference(&logged).collect();
    assert!(lost.is_empty(), "acknowledged but not in the log: {lost:?}");
    d.projections_caught_up(Duration::from_secs(60))
        .await
        .expect("caught up");
    drop(server);
    let (equal, report) = d.replay_verifies().await.expect("replay --verify");
    assert!(equal, "the read models differ from a replay:\n{report}");
    println!(
        "PostgreSQL down 3 s mid-load: {} commands sent, {} acknowledged, all {} in the log; while down \
         commands got {:?} (slowest answer {:.1} s) and /readyz {:?}; first success {:.1} s after PostgreSQL was back, no restart; \
         replay --verify: equal",
        load.sent,
        load.acknowledged.len(),
        load.acknowledged.len(),
        seen.iter().filter(|(s, _)| **s < 1000).collect::<Vec<_>>(),
        slowest.as_secs_f64(),
        seen.iter()
            .filter(|(s, _)| **s >= 1000)
            .map(|(s, n)| (s - 1000, n))
            .collect::<Vec<_>>(),
        recovered.as_secs_f64(),
    );
    d.remove().await;
}
