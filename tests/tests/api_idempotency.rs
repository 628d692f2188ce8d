//! `Idempotency-Key` against misuse and failure: keys belong to the signed-in
//! person, strangers store nothing, concurrent repeats act once, a command's
//! events and its stored answer commit together, and old keys are purged.

use roster::ShapeArg;
use roster_tests::http::{TestServer, PASSWORD};
use roster_tests::Backend;
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

/// How many invitations to `email` the log holds.
/// `UserInvited` events for `email` in the whole log. Reads up to the head: the
/// gap-safe horizon holds the newest events back for a moment while another
/// test's transaction is open, so an empty read before the head waits (20 s at most).
async fn invitations_logged(s: &TestServer, email: &str) -> usize {
    let head = s.store.head().await.expect("head");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut after = roster_eventstore::Position::START;
    let mut n = 0;
    loop {
        let batch = s.store.read_all(after, 1_000).await.expect("read");
        let Some(last) = batch.last() else {
            if after >= head || std::time::Instant::now() > deadline {
                return n;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            continue;
        };
        after = last.global_position;
        n += batch
            .iter()
            .filter(|e| e.event_type == "UserInvited" && e.payload["email"] == email)
            .count();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_repeats_of_a_keyed_request_act_once_and_answer_alike() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        repeats_act_once(backend).await;
    }
}

async fn repeats_act_once(backend: Backend) {
    let s = TestServer::start_on(backend).await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let org = org.to_string();
    let repeats = (0..8).map(|_| invite_with_key(&s, &org, &olive, "k-twins", "ann@acme.io"));
    let answers = futures::future::join_all(repeats).await;
    let first = &answers[0].2;
    for (status, _, body) in &answers {
        assert_eq!(
            (*status, body),
            (201, first),
            "every repeat gets the one answer"
        );
    }
    assert_eq!(
        answers.iter().filter(|(_, replayed, _)| !replayed).count(),
        1,
        "one ran, the others replayed it"
    );
    assert_eq!(
        invitations_logged(&s, "ann@acme.io").await,
        1,
        "the invitation is recorded once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_commands_events_and_answer_commit_together_or_not_at_all() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        events_and_answer_commit_together(backend).await;
    }
}

async fn events_and_answer_commit_together(backend: Backend) {
    let s = TestServer::start_on(backend).await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    // The answer of one key cannot be stored (as when the database fails between
    // the two writes).
    let mut tx = s.read.begin().await.expect("tx");
    match &mut tx {
        roster_storage::Tx::Pg(_) => {
            roster_storage::exec!(
                &mut tx,
                "CREATE FUNCTION refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN IF NEW.key = 'doomed' THEN RAISE EXCEPTION 'doomed'; END IF; RETURN NEW; END $$"
            )
            .expect("function");
            roster_storage::exec!(
                &mut tx,
                "CREATE TRIGGER refuse_doomed BEFORE INSERT ON idempotency_keys \
                 FOR EACH ROW EXECUTE FUNCTION refuse_doomed()"
            )
            .expect("trigger");
        }
        roster_storage::Tx::Sqlite(_) => {
            roster_storage::exec!(
                &mut tx,
                "CREATE TRIGGER refuse_doomed BEFORE INSERT ON idempotency_keys \
                 WHEN NEW.key = 'doomed' BEGIN SELECT RAISE(ABORT, 'doomed'); END"
            )
            .expect("trigger");
        }
    }
    tx.commit().await.expect("commit");
    let org = org.to_string();
    let (status, _, failed) = invite_with_key(&s, &org, &olive, "doomed", "ann@acme.io").await;
    assert_eq!(status, 500, "{failed}");
    assert_eq!(
        invitations_logged(&s, "ann@acme.io").await,
        0,
        "the events went with their answer"
    );
    let (status, replayed, _) = invite_with_key(&s, &org, &olive, "fine", "ann@acme.io").await;
    assert_eq!(
        (status, replayed),
        (201, false),
        "the same command with another key is recorded once, as if the first never ran"
    );
    assert_eq!(invitations_logged(&s, "ann@acme.io").await, 1);
    s.drain().await;
    let (_, members) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(
        members["invitations"]
            .as_array()
            .map(|a| a.iter().filter(|i| i["email"] == "ann@acme.io").count()),
        Some(1),
        "one pending invitation: {members}"
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

/// The web page sends a key with every change, so a signed-in person accepting
/// an invitation runs in a unit of work too: its appends (the organization's
/// and, for a new identity, the person's) join one transaction on either backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_accept_by_a_signed_in_person_commits_once_and_replays() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let s = TestServer::start_on(backend).await.expect("server");
        let (org, olive, _) = s
            .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
            .await;
        let (_, zed, _) = s
            .org_with_owner(ShapeArg::Single, "zed@other.io", vec![])
            .await;
        let invitation = s
            .invite(
                org,
                &olive,
                json!({ "email": "zed@other.io", "full_name": "Zed", "role": "standard" }),
            )
            .await;
        let accept = json!({ "token": s.token_of(org, invitation).await });
        let mut answers = Vec::new();
        for _ in 0..2 {
            let res = s
                .http
                .post(format!("{}/api/invitations/accept", s.base))
                .bearer_auth(&zed)
                .header("idempotency-key", "accept-once")
                .json(&accept)
                .send()
                .await
                .expect("answer");
            let replayed = res.headers().contains_key("idempotent-replayed");
            answers.push((
                res.status().as_u16(),
                replayed,
                res.json::<Value>().await.expect("json"),
            ));
        }
        assert_eq!(
            (answers[0].0, answers[0].1),
            (201, false),
            "{backend:?}: {answers:?}"
        );
        assert_eq!((answers[1].0, answers[1].1), (201, true), "{backend:?}");
        assert_eq!(answers[0].2, answers[1].2, "{backend:?}");
        s.drain().await;
        let (_, me) = s.call("GET", "/api/me", Some(&zed), None).await;
        assert_eq!(
            me["organizations"].as_array().map(Vec::len),
            Some(2),
            "{backend:?}: {me}"
        );
    }
}
