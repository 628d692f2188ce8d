//! PostgreSQL turned read-only (as an operator does when its disk fills up) under
//! the real binary: commands get 503 problems with `Retry-After` and change
//! nothing, readiness says the database cannot be written, reads keep working; once
//! writes are allowed again everything works and the read models equal a replay.

use std::time::{Duration, Instant};

use roster_tests::binary::{call, Deployment, PrivatePostgres};
use serde_json::json;
use sqlx::PgPool;

async fn set_read_only(admin: &PgPool, on: bool) {
    let statement = if on {
        "ALTER SYSTEM SET default_transaction_read_only = on"
    } else {
        "ALTER SYSTEM RESET default_transaction_read_only"
    };
    sqlx::query(statement)
        .execute(admin)
        .await
        .expect("alter system");
    sqlx::query("SELECT pg_reload_conf()")
        .execute(admin)
        .await
        .expect("reload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_database_refuses_commands_cleanly_and_recovers_when_writable_again() {
    let pg = PrivatePostgres::start().await.expect("private PostgreSQL");
    let d = Deployment::create_on(&pg.admin_url())
        .await
        .expect("deployment");
    let server = d.serve().await.expect("serve");
    let org = d.found(&server, 0).await.expect("org");
    let http = reqwest::Client::new();
    let invite = |n: usize| {
        call(
            &http,
            "POST",
            format!("{}/api/orgs/{}/invitations", server.base, org.id),
            Some(&org.session),
            Some(
                json!({ "email": format!("r{n}@example.com"), "full_name": "Rea Only", "role": "standard" }),
            ),
        )
    };
    assert_eq!(invite(0).await.expect("invite").0, 201);
    let admin = PgPool::connect(&pg.admin_url()).await.expect("admin");
    let events_before: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&d.pool)
        .await
        .expect("count");

    set_read_only(&admin, true).await;
    // Every session picks the setting up at its next transaction.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = http
        .post(format!("{}/api/orgs/{}/invitations", server.base, org.id))
        .bearer_auth(&org.session)
        .json(&json!({ "email": "r1@example.com", "full_name": "Rea Only", "role": "standard" }))
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status().as_u16(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.expect("problem");
    assert_eq!(
        body["type"].as_str(),
        Some("https://roster.dev/problems/unavailable")
    );
    let (status, ready) = call(&http, "GET", format!("{}/readyz", server.base), None, None)
        .await
        .expect("readyz");
    assert_eq!(status, 503, "{ready}");
    assert!(
        ready["detail"]
            .as_str()
            .is_some_and(|d| d.contains("cannot be written")),
        "{ready}"
    );
    let (status, _) = call(
        &http,
        "GET",
        format!("{}/api/orgs/{}/invitations", server.base, org.id),
        Some(&org.session),
        None,
    )
    .await
    .expect("read");
    assert_eq!(status, 200, "reads keep working");
    let events_during: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&d.pool)
        .await
        .expect("count");
    assert_eq!(events_before, events_during, "nothing was half-written");

    set_read_only(&admin, false).await;
    let back = Instant::now();
    loop {
        let (status, body) = invite(2).await.expect("invite");
        if status == 201 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(15), "{status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Followers that failed while the database was read-only retry after their
    // backoff (at most 10 s, plus jitter): readiness returns by itself.
    loop {
        let (status, ready) = call(&http, "GET", format!("{}/readyz", server.base), None, None)
            .await
            .expect("readyz");
        if status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(45),
            "ready again: {status} {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    d.projections_caught_up(Duration::from_secs(30))
        .await
        .expect("caught up");
    drop(server);
    let (equal, report) = d.replay_verifies().await.expect("replay --verify");
    assert!(equal, "the read models differ from a replay:\n{report}");
    admin.close().await;
    d.remove().await;
}
