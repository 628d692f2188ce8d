//! The SMTP server down for a while under the real binary: the emails of the
//! invitations made meanwhile are retried with backoff and all delivered, once
//! each, after it returns. Prints its figures (docs/RELIABILITY.md).

use std::time::{Duration, Instant};

use roster_tests::binary::{call, Deployment};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn emails_queued_during_an_smtp_outage_are_all_delivered_once_it_returns() {
    let mut d = Deployment::create().await.expect("deployment");
    let server = d.serve().await.expect("serve");
    let org = d.found(&server, 0).await.expect("org");
    let http = reqwest::Client::new();

    d.sink.stop();
    let down = Instant::now();
    let invited = 40;
    for i in 0..invited {
        let (status, body) = call(
            &http,
            "POST",
            format!("{}/api/orgs/{}/invitations", server.base, org.id),
            Some(&org.session),
            Some(json!({ "email": format!("m{i}@example.com"), "full_name": "Mo Mail", "role": "standard" })),
        )
        .await
        .expect("invite");
        assert_eq!(
            status, 201,
            "inviting does not wait for the mail server: {body}"
        );
    }
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(down.elapsed())).await;
    let transient: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'InvitationEmailFailed' \
         AND (payload->>'permanent')::boolean = false",
    )
    .fetch_one(&d.pool)
    .await
    .expect("failures");
    assert!(transient > 0, "the outage was noticed and recorded");
    d.sink.restart().await.expect("SMTP back");
    let back = Instant::now();

    let wanted: Vec<String> = (0..invited).map(|i| format!("m{i}@example.com")).collect();
    let received = loop {
        let received = d.received();
        if wanted.iter().all(|e| received.contains_key(e)) {
            break received;
        }
        assert!(
            back.elapsed() < Duration::from_secs(90),
            "{} of {invited} delivered",
            wanted.iter().filter(|e| received.contains_key(*e)).count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let all_in = back.elapsed();
    let twice = wanted
        .iter()
        .filter(|e| received.get(*e).copied().unwrap_or(0) > 1)
        .count();
    assert_eq!(twice, 0, "an email arrived twice");
    println!(
        "SMTP down 5 s: {invited} invitations answered 201 meanwhile; {transient} transient failures recorded; \
         all {invited} delivered {:.1} s after the server returned, none twice",
        all_in.as_secs_f64()
    );
    drop(server);
    d.remove().await;
}
