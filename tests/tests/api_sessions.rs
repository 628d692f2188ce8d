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
