//! The HTTP API end to end, through real HTTP on a random port against
//! PostgreSQL: bootstrap, preview, accept, sign in, invite, authorization for
//! every kind of caller, problem documents for every failure a client can cause.

use roster::ShapeArg;
use roster_domain::InvitationId;
use roster_eventstore::StreamId;
use roster_tests::http::{TestServer, PASSWORD};
use serde_json::{json, Value};

async fn me_id(s: &TestServer, token: &str) -> Option<String> {
    s.call("GET", "/api/me", Some(token), None).await.1["user_id"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_bootstraps_invites_and_manages_members_over_http() {
    let s = TestServer::start().await.expect("server");
    let (org, owner_link) = s
        .bootstrap("Acme", "olive@acme.io", ShapeArg::Single, vec![])
        .await;

    // Opening the link only previews it, however often.
    for _ in 0..2 {
        let (status, preview) = s
            .call("GET", &format!("/api/invitations/{owner_link}"), None, None)
            .await;
        assert_eq!(status, 200, "{preview}");
        assert_eq!(preview["organization"]["name"], "Acme");
        assert_eq!(preview["status"], "pending");
        assert_eq!(preview["existing_account"], false);
    }
    let (status, weak) = s
        .call(
            "POST",
            "/api/invitations/accept",
            None,
            Some(json!({ "token": owner_link, "full_name": "Olive Owner", "password": "short" })),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(weak["errors"][0]["field"], "password");
    let (status, joined) = s
        .call(
            "POST",
            "/api/invitations/accept",
            None,
            Some(json!({ "token": owner_link, "full_name": "Olive Owner", "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, 201, "{joined}");

    let (status, bad) = s
        .call(
            "POST",
            "/api/sessions",
            None,
            Some(json!({ "email": "olive@acme.io", "password": "wrong password!" })),
        )
        .await;
    assert_eq!(
        (status, bad["type"].as_str()),
        (401, Some("https://roster.dev/problems/invalid-credentials"))
    );
    let (status, unknown) = s
        .call(
            "POST",
            "/api/sessions",
            None,
            Some(json!({ "email": "nobody@acme.io", "password": PASSWORD })),
        )
        .await;
    assert_eq!(
        (status, &unknown["type"]),
        (401, &bad["type"]),
        "unknown email and wrong password answer alike"
    );
    let olive = s.sign_in("OLIVE@acme.io", PASSWORD).await;

    let after = joined["position"].as_u64().expect("position");
    let (status, members) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/members?after={after}"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200, "{members}");
    assert_eq!(members["members"][0]["email"], "olive@acme.io");
    assert_eq!(members["stale"], false);
    // Once projected, a used link is simply no longer valid.
    let (status, reused) = s
        .call(
            "POST",
            "/api/invitations/accept",
            None,
            Some(json!({ "token": owner_link, "full_name": "X", "password": PASSWORD })),
        )
        .await;
    assert_eq!(
        (status, reused["type"].as_str()),
        (
            404,
            Some("https://roster.dev/problems/invalid-invitation-link")
        )
    );

    // Invite Ann; refusals name their rule.
    let (status, invited) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            Some(json!({ "email": "ann@example.com", "full_name": "Ann Lee", "role": "admin" })),
        )
        .await;
    assert_eq!(status, 201, "{invited}");
    let ann_invitation: InvitationId = invited["invitation_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let (status, dup) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            Some(json!({ "email": "ANN@example.com", "full_name": "Ann", "role": "standard" })),
        )
        .await;
    assert_eq!(
        (status, dup["type"].as_str()),
        (409, Some("https://roster.dev/problems/already-invited"))
    );
    assert_eq!(
        dup["invitation_id"], invited["invitation_id"],
        "the refusal names the invitation to resend"
    );
    let (status, invalid) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            Some(json!({ "email": "not-an-email", "role": "owner" })),
        )
        .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = invalid["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "full_name"]);
    let (status, shape) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            Some(json!({ "email": "x@example.com", "full_name": "X", "org_role": "owner" })),
        )
        .await;
    assert_eq!(
        (status, shape["errors"][0]["field"].as_str()),
        (422, Some("role"))
    );

    // The email arrives with this send's link; a resend sends a new one and kills the old.
    let first_link = s.token_from_email("ann@example.com", 0).await;
    assert_eq!(
        first_link,
        s.token_of(org, ann_invitation).await,
        "the email carries this send's link"
    );
    let (status, resent) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations/{ann_invitation}/resend"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200, "{resent}");
    let ann_link = s.token_from_email("ann@example.com", 1).await;
    assert_ne!(ann_link, first_link, "a resend sends a new link");
    let (status, old) = s
        .call("GET", &format!("/api/invitations/{first_link}"), None, None)
        .await;
    assert_eq!(status, 404, "the old link stopped working: {old}");
    let (status, preview) = s
        .call("GET", &format!("/api/invitations/{ann_link}"), None, None)
        .await;
    assert_eq!(
        (status, preview["email"].as_str()),
        (200, Some("ann@example.com"))
    );
    let (status, joined) = s.call("POST", "/api/invitations/accept", None, Some(json!({ "token": ann_link, "full_name": "Ann B. Lee", "password": "another fine passphrase" }))).await;
    assert_eq!(status, 201, "{joined}");
    let ann_id = joined["user_id"].as_str().expect("user").to_owned();
    let ann = s
        .sign_in("ann@example.com", "another fine passphrase")
        .await;
    let after = joined["position"].as_u64().expect("position");

    // Authorization: owner 200, admin 403, stranger 404, anonymous 401.
    let (status, _) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/members?after={after}"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, denied) = s
        .call("GET", &format!("/api/orgs/{org}/members"), Some(&ann), None)
        .await;
    assert_eq!(
        (status, denied["type"].as_str()),
        (403, Some("https://roster.dev/problems/not-an-owner"))
    );
    let (other_org, other_link) = s
        .bootstrap("Other", "zed@other.io", ShapeArg::Single, vec![])
        .await;
    let (_, z) = s
        .call(
            "POST",
            "/api/invitations/accept",
            None,
            Some(json!({ "token": other_link, "full_name": "Zed", "password": PASSWORD })),
        )
        .await;
    let zed = s.sign_in("zed@other.io", PASSWORD).await;
    let (status, hidden) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/members?after={}", z["position"]),
            Some(&zed),
            None,
        )
        .await;
    assert_eq!(
        (status, hidden["type"].as_str()),
        (
            404,
            Some("https://roster.dev/problems/organization-not-found")
        )
    );
    let (status, _) = s
        .call(
            "GET",
            &format!("/api/orgs/{other_org}/invitations"),
            Some(&zed),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .call("GET", &format!("/api/orgs/{org}/members"), None, None)
        .await;
    assert_eq!(status, 401);

    // /api/me lists Ann's organization and role.
    let (status, me) = s.call("GET", "/api/me", Some(&ann), None).await;
    assert_eq!(status, 200);
    assert_eq!(me["full_name"], "Ann B. Lee");
    assert_eq!(me["organizations"][0]["role"], "admin");
    assert_eq!(me["organizations"][0]["name"], "Acme");

    // Ann shows up in the owner's member list, the owner pinned first.
    let (_, members) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/members"),
            Some(&olive),
            None,
        )
        .await;
    let emails: Vec<&str> = members["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["email"].as_str())
        .collect();
    assert_eq!(emails, ["olive@acme.io", "ann@example.com"]);

    // Zed already has an identity (he owns "Other"): he must be signed in as himself to accept.
    let (status, invited) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            Some(json!({ "email": "zed@other.io", "full_name": "Zed", "role": "standard" })),
        )
        .await;
    assert_eq!(status, 201, "{invited}");
    let zed_invitation: InvitationId = invited["invitation_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let zed_link = s.token_of(org, zed_invitation).await;
    let accept = json!({ "token": zed_link });
    let (status, anonymous) = s
        .call(
            "POST",
            "/api/invitations/accept",
            None,
            Some(accept.clone()),
        )
        .await;
    assert_eq!(
        (status, anonymous["type"].as_str()),
        (401, Some("https://roster.dev/problems/sign-in-to-accept"))
    );
    let (status, wrong) = s
        .call(
            "POST",
            "/api/invitations/accept",
            Some(&ann),
            Some(accept.clone()),
        )
        .await;
    assert_eq!(
        (status, wrong["type"].as_str()),
        (403, Some("https://roster.dev/problems/wrong-identity"))
    );
    let (status, joined_zed) = s
        .call("POST", "/api/invitations/accept", Some(&zed), Some(accept))
        .await;
    assert_eq!(status, 201, "{joined_zed}");
    assert_eq!(
        joined_zed["user_id"].as_str(),
        me_id(&s, &zed).await.as_deref(),
        "he joins with his existing identity"
    );

    // Role change, last-owner rule, removal.
    let (status, _) = s
        .call(
            "PATCH",
            &format!("/api/orgs/{org}/members/{ann_id}"),
            Some(&olive),
            Some(json!({ "role": "standard" })),
        )
        .await;
    assert_eq!(status, 200);
    let olive_id = s.call("GET", "/api/me", Some(&olive), None).await.1["user_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, last) = s
        .call(
            "DELETE",
            &format!("/api/orgs/{org}/members/{olive_id}"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(
        (status, last["type"].as_str()),
        (409, Some("https://roster.dev/problems/last-owner"))
    );
    let (status, removed) = s
        .call(
            "DELETE",
            &format!("/api/orgs/{org}/members/{ann_id}"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200, "{removed}");
    let (status, gone) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/members?after={}", removed["position"]),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(
        status, 404,
        "a removed member no longer sees the organization: {gone}"
    );

    // Cancel an invitation; its link dies.
    let (_, inv) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            Some(json!({ "email": "cy@example.com", "full_name": "Cy", "role": "standard" })),
        )
        .await;
    let cy: InvitationId = inv["invitation_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let cy_link = s.token_of(org, cy).await;
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/api/orgs/{org}/invitations/{cy}"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, dead) = s
        .call(
            "POST",
            "/api/invitations/accept",
            None,
            Some(json!({ "token": cy_link, "full_name": "Cy", "password": PASSWORD })),
        )
        .await;
    assert!(matches!(status, 404 | 410), "{status} {dead}");

    // Sign out revokes the session.
    let (status, _) = s
        .call("DELETE", "/api/sessions/current", Some(&olive), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = s.call("GET", "/api/me", Some(&olive), None).await;
    assert_eq!(status, 401);

    // The organization's story, as the log tells it.
    let stream = StreamId::new(org.stream_name()).expect("stream");
    let types: Vec<String> = s
        .store
        .read_stream(&stream, 1, 1000)
        .await
        .expect("read")
        .into_iter()
        .map(|r| r.event_type)
        // Email outcomes land whenever the worker gets there: pinned by count, not order.
        .filter(|t| t != "InvitationEmailSent")
        .collect();
    insta::assert_json_snapshot!(types);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_problem_documents_not_plain_text() {
    let s = TestServer::start().await.expect("server");
    let url = format!("{}/api/sessions", s.base);
    let send = |body: String, content_type: &'static str| {
        let http = s.http.clone();
        let url = url.clone();
        async move {
            let res = http
                .post(url)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("send");
            let status = res.status().as_u16();
            let ct = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body: Value = res.json().await.expect("json");
            (
                status,
                ct,
                body["type"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            )
        }
    };
    assert_eq!(
        send("{not json".into(), "application/json").await,
        (
            400,
            "application/problem+json".into(),
            "malformed-json".into()
        )
    );
    assert_eq!(
        send("{}".into(), "text/plain").await,
        (
            415,
            "application/problem+json".into(),
            "unsupported-media-type".into()
        )
    );
    assert_eq!(
        send(
            r#"{"email":"a@b.io","password":"x","extra":1}"#.into(),
            "application/json"
        )
        .await,
        (422, "application/problem+json".into(), "validation".into())
    );
    let huge = format!(
        r#"{{"email":"a@b.io","password":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    assert_eq!(
        send(huge, "application/json").await,
        (
            413,
            "application/problem+json".into(),
            "body-too-large".into()
        )
    );
    let (status, body) = s.call("GET", "/api/invitations/deadbeef", None, None).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (
            404,
            Some("https://roster.dev/problems/invalid-invitation-link")
        )
    );
    let (status, _) = s
        .call("GET", "/api/orgs/not-a-uuid/members", None, None)
        .await;
    assert_eq!(status, 401, "authentication comes before anything else");
}
