//! `kill -9` of the real `roster` binary under a steady command load, on PostgreSQL
//! with a real SMTP sink. Each test prints its figures (docs/RELIABILITY.md).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roster_tests::binary::{call, invitation_load, Deployment, Org};

/// Waits until the pending lists of `orgs`, read on `base`, hold `expected` in all.
async fn listed(base: &str, orgs: &[Org], expected: usize) -> usize {
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let mut listed = 0;
        for org in orgs {
            let (status, body) = call(
                &http,
                "GET",
                format!("{base}/api/orgs/{}/invitations", org.id),
                Some(&org.session),
                None,
            )
            .await
            .expect("list");
            assert_eq!(status, 200, "{body}");
            listed += body["invitations"].as_array().map_or(0, Vec::len);
        }
        if listed == expected {
            return listed;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the pending lists show {listed} of {expected} invitations"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_under_load_loses_no_acknowledged_command_and_no_email() {
    let d = Deployment::create().await.expect("deployment");
    let mut first = d.serve().await.expect("serve");
    // One organization may send 200 invitations an hour: the load is spread.
    let mut orgs = Vec::new();
    for n in 0..4 {
        orgs.push(d.found(&first, n).await.expect("org"));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let load = invitation_load(8, vec![first.base.clone()], orgs.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill().await.expect("kill -9");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let load = load.await.expect("load");
    assert!(
        load.acknowledged.len() > 20,
        "the load ran before the kill ({} acknowledged)",
        load.acknowledged.len()
    );

    // Every acknowledged command is in the log.
    let logged = d.invited_in_log().await.expect("log");
    let lost: Vec<_> = load.acknowledged.difference(&logged).collect();
    assert!(lost.is_empty(), "acknowledged but not in the log: {lost:?}");

    // A new server resumes: the read models catch up and every email goes out.
    let mut second = d.serve().await.expect("restart");
    let pending = listed(&second.base, &orgs, logged.len()).await;
    let started = Instant::now();
    let received = loop {
        let received = d.received();
        if logged.iter().all(|e| received.contains_key(e)) {
            break received;
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
    };
    let duplicates: usize = logged
        .iter()
        .map(|e| received.get(e).copied().unwrap_or(0).saturating_sub(1))
        .sum();

    // Quiet, the read models equal a replay of the whole log.
    d.projections_caught_up(Duration::from_secs(30))
        .await
        .expect("caught up");
    second.kill().await.expect("stop");
    let (equal, report) = d.replay_verifies().await.expect("replay --verify");
    assert!(equal, "the read models differ from a replay:\n{report}");
    println!(
        "kill -9 under load: {} commands sent, {} acknowledged, {} in the log ({} recorded but not \
         acknowledged), {} unanswered while down; {pending} pending invitations listed after \
         restart; {} emails expected, all delivered ({duplicates} sent twice); replay --verify: equal",
        load.sent,
        load.acknowledged.len(),
        logged.len(),
        logged.len() - load.acknowledged.len(),
        load.unanswered,
        logged.len(),
    );
    d.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_one_of_two_servers_is_killed_the_other_takes_over_projections_and_workers() {
    let mut d = Deployment::create().await.expect("deployment");
    // Short links, so that the survivor's expiry worker has work within the test.
    d.env.push(("ROSTER_INVITE_TTL".into(), "10s".into()));
    let mut leader = d.serve().await.expect("first server");
    let mut standby = d.serve().await.expect("second server");
    let mut orgs = Vec::new();
    for n in 0..4 {
        orgs.push(d.found(&leader, n).await.expect("org"));
    }

    // Load on both; the first (which leads every follower) is killed.
    let stop = Arc::new(AtomicBool::new(false));
    let load = invitation_load(
        8,
        vec![leader.base.clone(), standby.base.clone()],
        orgs.clone(),
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    leader.kill().await.expect("kill -9");
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let load = load.await.expect("load");
    let logged = d.invited_in_log().await.expect("log");
    let lost: Vec<_> = load.acknowledged.difference(&logged).collect();
    assert!(lost.is_empty(), "acknowledged but not in the log: {lost:?}");

    // The survivor projects what was left and expires every invitation, once each.
    listed(&standby.base, &orgs, logged.len()).await;
    let started = Instant::now();
    let (expired, twice) = loop {
        let (expired, twice): (i64, i64) = sqlx::query_as(
            "SELECT count(DISTINCT payload->>'invitation_id'), \
                    count(*) - count(DISTINCT payload->>'invitation_id') \
             FROM events WHERE event_type = 'InvitationExpired'",
        )
        .fetch_one(&d.pool)
        .await
        .expect("expired");
        let expired = usize::try_from(expired).unwrap_or(0);
        if expired >= logged.len() {
            break (expired, twice);
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{expired} of {} invitations expired",
            logged.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(twice, 0, "an invitation expired twice");
    let (sent_twice,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM (SELECT payload->>'send_id' FROM events \
         WHERE event_type = 'InvitationEmailSent' GROUP BY 1 HAVING count(*) > 1) t",
    )
    .fetch_one(&d.pool)
    .await
    .expect("sends");
    assert_eq!(sent_twice, 0, "a send was recorded as mailed twice");
    let (mailed,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE event_type = 'InvitationEmailSent'")
            .fetch_one(&d.pool)
            .await
            .expect("mailed");

    d.projections_caught_up(Duration::from_secs(30))
        .await
        .expect("caught up");
    standby.kill().await.expect("stop");
    let (equal, report) = d.replay_verifies().await.expect("replay --verify");
    assert!(equal, "the read models differ from a replay:\n{report}");
    println!(
        "two servers, leader killed: {} commands sent, {} acknowledged, {} in the log; the survivor \
         projected all, expired {expired} invitations ({twice} twice), recorded {mailed} emails \
         (none twice; the rest expired before sending); replay --verify: equal",
        load.sent,
        load.acknowledged.len(),
        logged.len(),
    );
    d.remove().await;
}
