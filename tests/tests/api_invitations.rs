//! An owner's invitations over HTTP: refusals that name their rule, the emailed
//! link, resend and cancel.

use roster::ShapeArg;
use roster_tests::http::TestServer;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inviting_someone_already_invited_names_the_invitation_to_resend() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let first = s
        .invite(
            org,
            &olive,
            json!({ "email": "ann@example.com", "full_name": "Ann Lee", "role": "admin" }),
        )
        .await;
    let (status, dup) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            Some(json!({ "email": "ANN@example.com", "full_name": "Ann", "role": "standard" })),
        )
        .await;
    assert_eq!((status, TestServer::rule(&dup)), (409, "already-invited"));
    assert_eq!(dup["invitation_id"], first.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_invitation_names_every_bad_field() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let (status, invalid) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            Some(json!({ "email": "not-an-email", "org_role": "owner" })),
        )
        .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = invalid["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        ["email", "full_name", "role"],
        "a multi-account role does not fit a single-account organization"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_carries_the_link_of_its_send() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let invitation = s
        .invite(
            org,
            &olive,
            json!({ "email": "ann@example.com", "full_name": "Ann Lee", "role": "admin" }),
        )
        .await;
    let emailed = s.token_from_email("ann@example.com", 0).await;
    assert_eq!(emailed, s.token_of(org, invitation).await);
    let (status, preview) = s
        .call("GET", &format!("/api/invitations/{emailed}"), None, None)
        .await;
    assert_eq!(
        (status, preview["email"].as_str()),
        (200, Some("ann@example.com"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_rotates_the_token_and_the_old_link_stops_working() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let invitation = s
        .invite(
            org,
            &olive,
            json!({ "email": "ann@example.com", "full_name": "Ann Lee", "role": "admin" }),
        )
        .await;
    let first = s.token_from_email("ann@example.com", 0).await;
    let (status, resent) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations/{invitation}/resend"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200, "{resent}");
    let second = s.token_from_email("ann@example.com", 1).await;
    assert_ne!(second, first, "a resend sends a new link");
    assert_eq!(second, s.token_of(org, invitation).await);
    let (status, old) = s
        .call("GET", &format!("/api/invitations/{first}"), None, None)
        .await;
    assert_eq!(
        (status, TestServer::rule(&old)),
        (404, "invalid-invitation-link")
    );
    let (status, joined) = s.accept_as_new(&second, "Ann B. Lee").await;
    assert_eq!(status, 201, "the new link works: {joined}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_invitation_cannot_be_accepted() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let cy = s
        .invite(
            org,
            &olive,
            json!({ "email": "cy@example.com", "full_name": "Cy", "role": "standard" }),
        )
        .await;
    let link = s.token_of(org, cy).await;
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/api/orgs/{org}/invitations/{cy}"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, dead) = s.accept_as_new(&link, "Cy").await;
    assert!(
        matches!(
            (status, TestServer::rule(&dead)),
            (410, "invitation-cancelled") | (404, "invalid-invitation-link")
        ),
        "{status} {dead}"
    );
}
