//! `Idempotency-Key` against misuse: keys belong to the signed-in person, strangers
//! store nothing, an unfinished request does not hold its key for a day, and old
//! keys are purged.

use roster::ShapeArg;
use roster_commands::idempotency::{reserve, KeyedRequest, Reservation};
use roster_commands::Clock;
use roster_tests::http::{TestServer, PASSWORD};
use serde_json::{json, Value};

async fn keys_stored(s: &TestServer) -> i64 {
    let (n,) = roster_storage::fetch!(
        db & s.read,
        fetch_one,
        (i64,),
        "SELECT count(*) FROM idempotency_keys"
    )
    .expect("count");
    n
}

async fn invite_with_key(
    s: &TestServer,
    org: &str,
    session: &str,
    key: &str,
    email: &str,
) -> (u16, bool, Value) {
    let res = s
        .http
        .post(format!("{}/api/orgs/{org}/invitations", s.base))
        .bearer_auth(session)
        .header("idempotency-key", key)
        .json(&json!({ "email": email, "full_name": "Ann", "role": "admin" }))
        .send()
        .await
        .expect("answer");
    let status = res.status().as_u16();
    let replayed = res.headers().contains_key("idempotent-replayed");
    (status, replayed, res.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_belongs_to_the_person_whichever_session_they_use() {
    let s = TestServer::start().await.expect("server");
    let (org, laptop, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let phone = s.sign_in("olive@acme.io", PASSWORD).await;
    let org = org.to_string();
    let (status, replayed, first) = invite_with_key(&s, &org, &laptop, "k1", "ann@acme.io").await;
    assert_eq!((status, replayed), (201, false), "{first}");
    let (status, replayed, again) = invite_with_key(&s, &org, &phone, "k1", "ann@acme.io").await;
    assert_eq!((status, replayed), (201, true));
    assert_eq!(again, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_store_no_keys() {
    let s = TestServer::start().await.expect("server");
    for i in 0..5 {
        let res = s
            .http
            .post(format!("{}/api/invitations/accept", s.base))
            .header("idempotency-key", format!("anonymous-{i}"))
            .json(&json!({ "token": "deadbeef" }))
            .send()
            .await
            .expect("answer");
        assert_eq!(res.status().as_u16(), 404);
    }
    assert_eq!(keys_stored(&s).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_finished_does_not_hold_its_key_for_long() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let (_, me) = s.call("GET", "/api/me", Some(&olive), None).await;
    let user = me["user_id"].as_str().expect("id");
    // What a server that stopped mid-request leaves behind: a reservation, no answer.
    let body =
        serde_json::to_vec(&json!({ "email": "ann@acme.io", "full_name": "Ann", "role": "admin" }))
            .expect("body");
    let hash = roster_api::idempotency::request_hash(
        &reqwest::Method::POST,
        &format!("/api/orgs/{org}/invitations"),
        &body,
    );
    let left = reserve(
        &s.read,
        &KeyedRequest {
            scope: user,
            key: "k-stuck",
            request_hash: &hash,
        },
        s.clock.now(),
    )
    .await
    .expect("reserve");
    assert_eq!(left, Reservation::Fresh);
    let org = org.to_string();
    let (status, _, busy) = invite_with_key(&s, &org, &olive, "k-stuck", "ann@acme.io").await;
    assert_eq!(
        (status, TestServer::rule(&busy)),
        (409, "idempotent-request-in-progress")
    );
    s.clock.advance(chrono::Duration::seconds(61));
    let (status, replayed, _) = invite_with_key(&s, &org, &olive, "k-stuck", "ann@acme.io").await;
    assert_eq!(
        (status, replayed),
        (201, false),
        "the lapsed reservation no longer blocks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_older_than_a_day_are_purged() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let org = org.to_string();
    for i in 0..3 {
        invite_with_key(
            &s,
            &org,
            &olive,
            &format!("old-{i}"),
            &format!("p{i}@acme.io"),
        )
        .await;
    }
    assert_eq!(keys_stored(&s).await, 3);
    s.clock.advance(chrono::Duration::hours(25));
    let fresh = s.sign_in("olive@acme.io", PASSWORD).await;
    invite_with_key(&s, &org, &fresh, "new", "q@acme.io").await;
    assert_eq!(keys_stored(&s).await, 1, "only the new key is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_refusal_is_the_same_answer_byte_for_byte() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let refused = || async {
        let res = s
            .http
            .post(format!("{}/api/orgs/{org}/invitations", s.base))
            .bearer_auth(&olive)
            .header("idempotency-key", "k-refused")
            .json(&json!({ "email": "olive@acme.io", "full_name": "Olive", "role": "admin" }))
            .send()
            .await
            .expect("answer");
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let replayed = res.headers().contains_key("idempotent-replayed");
        (
            res.status().as_u16(),
            content_type,
            replayed,
            res.bytes().await.expect("body"),
        )
    };
    let first = refused().await;
    assert_eq!(first.0, 409, "olive is a member already");
    assert_eq!(first.1.as_deref(), Some("application/problem+json"));
    assert!(!first.2);
    let again = refused().await;
    assert!(again.2, "the second answer is a replay");
    assert_eq!(
        (again.0, again.1, again.3),
        (first.0, first.1, first.3),
        "status, content type and body as first sent"
    );
}
