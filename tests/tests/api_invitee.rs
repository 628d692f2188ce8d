//! The invitee's side over HTTP: previewing a link never uses it; a new person
//! joins with a name and a password; a known person joins as themself.

use roster::ShapeArg;
use roster_tests::http::{TestServer, PASSWORD};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_link_previews_it_however_often_without_using_it() {
    let s = TestServer::start().await.expect("server");
    let (_, link) = s
        .bootstrap("Acme", "olive@acme.io", ShapeArg::Single, vec![])
        .await;
    for _ in 0..2 {
        let (status, preview) = s
            .call("GET", &format!("/api/invitations/{link}"), None, None)
            .await;
        assert_eq!(status, 200, "{preview}");
        assert_eq!(preview["organization"]["name"], "Acme");
        assert_eq!(preview["status"], "pending");
        assert_eq!(preview["existing_account"], false);
    }
    let (status, joined) = s.accept_as_new(&link, "Olive Owner").await;
    assert_eq!(status, 201, "the link still works after previews: {joined}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_person_must_choose_a_strong_enough_password() {
    let s = TestServer::start().await.expect("server");
    let (_, link) = s
        .bootstrap("Acme", "olive@acme.io", ShapeArg::Single, vec![])
        .await;
    let (status, weak) = s
        .call(
            "POST",
            "/api/invitations/accept",
            None,
            Some(json!({ "token": link, "full_name": "Olive Owner", "password": "short" })),
        )
        .await;
    assert_eq!((status, TestServer::rule(&weak)), (422, "validation"));
    assert_eq!(weak["errors"][0]["field"], "password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_link_is_no_longer_valid() {
    let s = TestServer::start().await.expect("server");
    let (_, link) = s
        .bootstrap("Acme", "olive@acme.io", ShapeArg::Single, vec![])
        .await;
    let (status, _) = s.accept_as_new(&link, "Olive Owner").await;
    assert_eq!(status, 201);
    s.drain().await;
    let (status, reused) = s.accept_as_new(&link, "Mallory").await;
    assert_eq!(
        (status, TestServer::rule(&reused)),
        (410, "invitation-already-accepted"),
        "{reused}"
    );
    let (status, preview) = s
        .call("GET", &format!("/api/invitations/{link}"), None, None)
        .await;
    assert_eq!(
        (status, TestServer::rule(&preview)),
        (410, "invitation-already-accepted"),
        "{preview}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_person_must_sign_in_as_themself_to_accept() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let (_, zed, _) = s
        .org_with_owner(ShapeArg::Single, "zed@other.io", vec![])
        .await;
    let (_, ann, _) = s
        .member(org, &olive, "ann@acme.io", json!({ "role": "admin" }))
        .await;
    let invitation = s
        .invite(
            org,
            &olive,
            json!({ "email": "zed@other.io", "full_name": "Zed", "role": "standard" }),
        )
        .await;
    let accept = json!({ "token": s.token_of(org, invitation).await });

    let (status, anonymous) = s
        .call(
            "POST",
            "/api/invitations/accept",
            None,
            Some(accept.clone()),
        )
        .await;
    assert_eq!(
        (status, TestServer::rule(&anonymous)),
        (401, "sign-in-to-accept")
    );
    let (status, wrong) = s
        .call(
            "POST",
            "/api/invitations/accept",
            Some(&ann),
            Some(accept.clone()),
        )
        .await;
    assert_eq!((status, TestServer::rule(&wrong)), (403, "wrong-identity"));
    let (status, joined) = s
        .call("POST", "/api/invitations/accept", Some(&zed), Some(accept))
        .await;
    assert_eq!(status, 201, "{joined}");
    s.drain().await;
    let (_, me) = s.call("GET", "/api/me", Some(&zed), None).await;
    assert_eq!(
        joined["user_id"], me["user_id"],
        "he joins with his existing identity"
    );
    assert_eq!(me["organizations"].as_array().map(Vec::len), Some(2));
    let again = s.sign_in("zed@other.io", PASSWORD).await;
    assert!(!again.is_empty(), "his password is unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_person_cannot_accept_for_a_new_address() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let invitation = s
        .invite(
            org,
            &olive,
            json!({ "email": "newcomer@acme.io", "full_name": "New Comer", "role": "standard" }),
        )
        .await;
    let link = s.token_of(org, invitation).await;
    let (status, refused) = s
        .call(
            "POST",
            "/api/invitations/accept",
            Some(&olive),
            Some(json!({ "token": link, "full_name": "New Comer", "password": PASSWORD })),
        )
        .await;
    assert_eq!(
        (status, TestServer::rule(&refused)),
        (403, "wrong-identity")
    );
    let (status, joined) = s.accept_as_new(&link, "New Comer").await;
    assert_eq!(status, 201, "the invitee themself still can: {joined}");
}
