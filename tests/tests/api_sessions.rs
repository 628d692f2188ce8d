//! Signing in and out over HTTP.

use roster::ShapeArg;
use roster_tests::http::{TestServer, PASSWORD};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_email_and_a_wrong_password_get_the_same_answer() {
    let s = TestServer::start().await.expect("server");
    s.org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let attempt = |email: &'static str, password: &'static str| {
        s.call(
            "POST",
            "/api/sessions",
            None,
            Some(json!({ "email": email, "password": password })),
        )
    };
    let (status, wrong) = attempt("olive@acme.io", "wrong password!").await;
    assert_eq!(
        (status, TestServer::rule(&wrong)),
        (401, "invalid-credentials")
    );
    let (status, unknown) = attempt("nobody@acme.io", PASSWORD).await;
    assert_eq!((status, &unknown), (401, &wrong));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_email_is_case_insensitive() {
    let s = TestServer::start().await.expect("server");
    s.org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let token = s.sign_in("OLIVE@Acme.io", PASSWORD).await;
    let (status, me) = s.call("GET", "/api/me", Some(&token), None).await;
    assert_eq!((status, me["email"].as_str()), (200, Some("olive@acme.io")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_revokes_the_session_and_only_that_one() {
    let s = TestServer::start().await.expect("server");
    let (_, first, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let second = s.sign_in("olive@acme.io", PASSWORD).await;
    let (status, _) = s
        .call("DELETE", "/api/sessions/current", Some(&first), None)
        .await;
    assert_eq!(status, 204);
    let (status, gone) = s.call("GET", "/api/me", Some(&first), None).await;
    assert_eq!((status, TestServer::rule(&gone)), (401, "unauthenticated"));
    let (status, _) = s.call("GET", "/api/me", Some(&second), None).await;
    assert_eq!(status, 200);
}

async fn raw_sign_in(s: &TestServer) -> reqwest::Response {
    s.http
        .post(format!("{}/api/sessions", s.base))
        .json(&json!({ "email": "olive@acme.io", "password": PASSWORD }))
        .send()
        .await
        .expect("answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_answers_are_never_cached_and_the_cookie_is_secure_over_https() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let signed_in = raw_sign_in(&s).await;
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header(&signed_in, "cache-control"), "no-store");
    let cookie = header(&signed_in, "set-cookie");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.ends_with("; Secure"),
        "{cookie}"
    );
    let me = s
        .http
        .get(format!("{}/api/me", s.base))
        .bearer_auth(&olive)
        .send()
        .await
        .expect("answer");
    assert_eq!(header(&me, "cache-control"), "no-store");
    let invitation = s
        .invite(
            org,
            &olive,
            json!({ "email": "ann@acme.io", "full_name": "Ann", "role": "admin" }),
        )
        .await;
    let link = s.token_of(org, invitation).await;
    let preview = s
        .http
        .get(format!("{}/api/invitations/{link}", s.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(header(&preview, "cache-control"), "no-store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_in_constant_use_still_ends_after_its_absolute_lifetime() {
    let s = TestServer::start().await.expect("server");
    let (_, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    // Seven days are 168 hours: 15 uses 11 hours apart reach hour 165.
    for _ in 0..15 {
        s.clock.advance(chrono::Duration::hours(11));
        let (status, _) = s.call("GET", "/api/me", Some(&olive), None).await;
        assert_eq!(status, 200, "used within its idle lifetime, it lives on");
    }
    s.clock.advance(chrono::Duration::hours(11));
    let (status, gone) = s.call("GET", "/api/me", Some(&olive), None).await;
    assert_eq!((status, TestServer::rule(&gone)), (401, "unauthenticated"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_are_purged_when_someone_signs_in() {
    let s = TestServer::start().await.expect("server");
    s.org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    for _ in 0..3 {
        s.sign_in("olive@acme.io", PASSWORD).await;
    }
    let count = || async {
        let (n,) = roster_storage::fetch!(
            db & s.read,
            fetch_one,
            (i64,),
            "SELECT count(*) FROM sessions"
        )
        .expect("count");
        n
    };
    assert_eq!(count().await, 4);
    s.clock.advance(chrono::Duration::days(2));
    s.sign_in("olive@acme.io", PASSWORD).await;
    assert_eq!(count().await, 1, "only the new session is left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_revokes_every_session_of_the_caller() {
    let s = TestServer::start().await.expect("server");
    let (org, laptop, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let phone = s.sign_in("olive@acme.io", PASSWORD).await;
    let (_, ann, _) = s
        .member(org, &laptop, "ann@acme.io", json!({ "role": "admin" }))
        .await;
    let (status, _) = s.call("DELETE", "/api/sessions", Some(&phone), None).await;
    assert_eq!(status, 204);
    for session in [&laptop, &phone] {
        let (status, _) = s.call("GET", "/api/me", Some(session), None).await;
        assert_eq!(status, 401);
    }
    let (status, _) = s.call("GET", "/api/me", Some(&ann), None).await;
    assert_eq!(status, 200, "other people's sessions are untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_needs_the_current_one_and_signs_out_other_sessions() {
    let s = TestServer::start().await.expect("server");
    let (_, laptop, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let phone = s.sign_in("olive@acme.io", PASSWORD).await;
    let change =
        |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
    let (status, wrong) = s
        .call(
            "POST",
            "/api/me/password",
            Some(&laptop),
            Some(change("not my password!", "a brand new passphrase")),
        )
        .await;
    assert_eq!(
        (status, &wrong["errors"][0]["field"]),
        (422, &json!("current_password"))
    );
    let (status, weak) = s
        .call(
            "POST",
            "/api/me/password",
            Some(&laptop),
            Some(change(PASSWORD, "short")),
        )
        .await;
    assert_eq!(
        (status, &weak["errors"][0]["field"]),
        (422, &json!("new_password"))
    );
    let (status, _) = s
        .call(
            "POST",
            "/api/me/password",
            Some(&laptop),
            Some(change(PASSWORD, "a brand new passphrase")),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        s.call("GET", "/api/me", Some(&laptop), None).await.0,
        200,
        "this session stays"
    );
    assert_eq!(
        s.call("GET", "/api/me", Some(&phone), None).await.0,
        401,
        "others end"
    );
    let (status, _) = s
        .call(
            "POST",
            "/api/sessions",
            None,
            Some(json!({ "email": "olive@acme.io", "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, 401, "the old password no longer works");
    s.sign_in("olive@acme.io", "a brand new passphrase").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_reads_do_not_write_until_the_expiry_would_move_noticeably() {
    let s = TestServer::start().await.expect("server");
    let (_, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let expiry = || async {
        let (e,) = roster_storage::fetch!(
            db & s.read,
            fetch_one,
            (String,),
            "SELECT max(expires_at) FROM sessions"
        )
        .expect("expiry");
        e
    };
    let signed_in = expiry().await;
    s.clock.advance(chrono::Duration::minutes(30));
    for _ in 0..3 {
        assert_eq!(s.call("GET", "/api/me", Some(&olive), None).await.0, 200);
    }
    assert_eq!(
        expiry().await,
        signed_in,
        "half an hour later: nothing written"
    );
    s.clock.advance(chrono::Duration::minutes(60));
    assert_eq!(s.call("GET", "/api/me", Some(&olive), None).await.0, 200);
    assert!(
        expiry().await > signed_in,
        "90 minutes later: the expiry slides"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_reset_by_an_emailed_single_use_link() {
    for backend in [
        roster_tests::Backend::Postgres,
        roster_tests::Backend::Sqlite,
    ] {
        reset_by_link(backend).await;
    }
}

async fn reset_by_link(backend: roster_tests::Backend) {
    let s = TestServer::start_on(backend).await.expect("server");
    let (_, laptop, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let ask = |email: &'static str| {
        s.call(
            "POST",
            "/api/password-resets",
            None,
            Some(json!({ "email": email })),
        )
    };
    let (known_status, known) = ask("Olive@acme.io").await;
    let (unknown_status, unknown) = ask("nobody@acme.io").await;
    assert_eq!((known_status, unknown_status), (202, 202));
    assert_eq!(
        known, unknown,
        "the answer does not tell whether an account exists"
    );

    s.drain().await;
    let messages = s.sink.messages();
    assert!(messages
        .iter()
        .all(|m| !m.to.iter().any(|t| t.contains("nobody@"))));
    let email = messages
        .iter()
        .rev()
        .find(|m| {
            m.header("subject")
                .is_some_and(|h| h.contains("Reset your password"))
        })
        .expect("the reset email");
    let body = email.data.replace("=\r\n", "").replace("=3D", "=");
    let prefix = format!("{}/reset-password/", roster_tests::http::PUBLIC_URL);
    let at = body.find(&prefix).expect("a link") + prefix.len();
    let mut parts = body[at..].split(['/', '\r', '\n']);
    let user_id = parts.next().expect("user").to_owned();
    let token = parts.next().expect("token").to_owned();
    let complete = |new: &str| json!({ "user_id": user_id, "token": token, "new_password": new });
    let (status, weak) = s
        .call(
            "POST",
            "/api/password-resets/complete",
            None,
            Some(complete("short")),
        )
        .await;
    assert_eq!(
        (status, &weak["errors"][0]["field"]),
        (422, &json!("new_password"))
    );
    // From a browser that is still signed in: the page sends its session and an
    // Idempotency-Key with every change (the reset's writes must not wait on
    // each other, on SQLite either).
    let status = s
        .http
        .post(format!("{}/api/password-resets/complete", s.base))
        .bearer_auth(&laptop)
        .header("idempotency-key", "reset-from-the-page")
        .json(&complete("a fresh start passphrase"))
        .send()
        .await
        .expect("answer")
        .status()
        .as_u16();
    assert_eq!(status, 204, "{backend:?}");
    assert_eq!(
        s.call("GET", "/api/me", Some(&laptop), None).await.0,
        401,
        "every session ends"
    );
    s.sign_in("olive@acme.io", "a fresh start passphrase").await;
    let (status, reused) = s
        .call(
            "POST",
            "/api/password-resets/complete",
            None,
            Some(complete("yet another passphrase")),
        )
        .await;
    assert_eq!(
        (status, TestServer::rule(&reused)),
        (404, "invalid-reset-link")
    );
}
