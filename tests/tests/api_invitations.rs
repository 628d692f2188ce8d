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
    assert_eq!(
        dup["invitation_role"],
        json!({ "shape": "single", "role": "admin" }),
        "the refusal names the role the open invitation offers: {dup}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_corrects_an_invitations_role_and_a_fresh_link_replaces_the_old() {
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
    let path = format!("/api/orgs/{org}/invitations/{invitation}");
    // At once: a correction does not wait out the resend cooldown.
    let (status, changed) = s
        .call(
            "PATCH",
            &path,
            Some(&olive),
            Some(json!({ "role": "standard" })),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["changed"], true);
    let (status, list) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/invitations?after={}", changed["position"]),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["invitations"][0]["role_label"], "standard", "{list}");
    let second = s.token_from_email("ann@example.com", 1).await;
    assert_ne!(second, first, "a fresh link is emailed");
    let (status, old) = s.accept_as_new(&first, "Ann Lee").await;
    assert_eq!(
        (status, TestServer::rule(&old)),
        (410, "invitation-link-replaced"),
        "the email that offered the old role no longer works: {old}"
    );
    // The same role again changes nothing and sends nothing.
    let (status, same) = s
        .call(
            "PATCH",
            &path,
            Some(&olive),
            Some(json!({ "role": "standard" })),
        )
        .await;
    assert_eq!((status, &same["changed"]), (200, &json!(false)), "{same}");
    let (status, joined) = s.accept_as_new(&second, "Ann Lee").await;
    assert_eq!(status, 201, "{joined}");
    let (_, members) = s
        .call(
            "GET",
            &format!(
                "/api/orgs/{org}/members?search=ann&after={}",
                joined["position"]
            ),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(
        members["members"][0]["role_label"], "standard",
        "Ann joins with the corrected role: {members}"
    );
    let (status, history) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/history?after={}", joined["position"]),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        history
            .to_string()
            .contains("changed the invitation to Ann Lee <ann@example.com> from admin to standard"),
        "{history}"
    );
    // Once accepted, the invitation is closed.
    let (status, closed) = s
        .call(
            "PATCH",
            &path,
            Some(&olive),
            Some(json!({ "role": "owner" })),
        )
        .await;
    assert_eq!(
        (status, TestServer::rule(&closed)),
        (409, "invitation-closed"),
        "{closed}"
    );
    let (status, bad) = s
        .call(
            "PATCH",
            &path,
            Some(&olive),
            Some(json!({ "role": "emperor" })),
        )
        .await;
    assert_eq!(status, 422, "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_says_how_long_until_a_resend_is_accepted() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    s.invite(
        org,
        &olive,
        json!({ "email": "ann@example.com", "full_name": "Ann Lee", "role": "admin" }),
    )
    .await;
    s.drain().await;
    let wait = |list: &serde_json::Value| list["invitations"][0]["resend_in_seconds"].as_u64();
    let path = format!("/api/orgs/{org}/invitations");
    let (_, list) = s.call("GET", &path, Some(&olive), None).await;
    assert_eq!(wait(&list), Some(60), "{list}");
    s.clock.advance(chrono::Duration::seconds(45));
    let (_, list) = s.call("GET", &path, Some(&olive), None).await;
    assert_eq!(wait(&list), Some(15));
    s.clock.advance(chrono::Duration::seconds(15));
    let (_, list) = s.call("GET", &path, Some(&olive), None).await;
    assert_eq!(wait(&list), Some(0));
    // And the rule agrees: the resend is accepted now.
    let id = list["invitations"][0]["invitation_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, body) = s
        .call(
            "POST",
            &format!("{path}/{id}/resend"),
            Some(&olive),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
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
    s.clock.advance(chrono::Duration::seconds(61));
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
        (410, "invitation-link-replaced"),
        "the holder of the old link learns a newer email replaced it"
    );
    let (status, refused) = s.accept_as_new(&first, "Ann B. Lee").await;
    assert_eq!(
        (status, TestServer::rule(&refused)),
        (410, "invitation-link-replaced"),
        "and cannot accept with it"
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
    assert_eq!(
        (status, TestServer::rule(&dead)),
        (410, "invitation-cancelled"),
        "{dead}"
    );
    let (status, preview) = s
        .call("GET", &format!("/api/invitations/{link}"), None, None)
        .await;
    assert_eq!(
        (status, TestServer::rule(&preview)),
        (410, "invitation-cancelled"),
        "the link's holder learns why, and nothing of what it offered: {preview}"
    );
    assert!(preview.get("email").is_none() && !preview.to_string().contains("cy@example.com"));
    let (status, unknown) = s
        .call(
            "GET",
            "/api/invitations/not-a-link-anyone-was-sent",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, TestServer::rule(&unknown)),
        (404, "invalid-invitation-link"),
        "a token no email carried learns nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_cannot_be_used_to_flood_an_inbox() {
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
    let resend = format!("/api/orgs/{org}/invitations/{invitation}/resend");
    let res = s
        .http
        .post(format!("{}{resend}", s.base))
        .bearer_auth(&olive)
        .send()
        .await
        .expect("answer");
    assert_eq!(
        res.status().as_u16(),
        429,
        "a resend right after a send waits"
    );
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("60")
    );
    // One send a minute, past the recipient's five an hour.
    let mut answers = Vec::new();
    for _ in 0..6 {
        s.clock.advance(chrono::Duration::seconds(61));
        let (status, body) = s.call("POST", &resend, Some(&olive), None).await;
        answers.push((status, TestServer::rule(&body).to_owned()));
    }
    assert_eq!(
        answers.iter().filter(|(status, _)| *status == 200).count(),
        4,
        "the invitation and four resends make five sends: {answers:?}"
    );
    assert_eq!(answers[4], (429, "too-many-invitations".to_owned()));
    s.drain().await;
    let delivered = s
        .sink
        .messages()
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains("ann@example.com")))
        .count();
    assert!(delivered <= 5, "{delivered} emails reached one inbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invitation_lifetime_is_a_setting() {
    let s = TestServer::start_with(roster_tests::Backend::Postgres, |args| {
        args.invite_ttl = chrono::Duration::seconds(30);
    })
    .await
    .expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let sent_at = roster_commands::Clock::now(&s.clock);
    let (status, invited) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            Some(json!({ "email": "ann@example.com", "full_name": "Ann", "role": "admin" })),
        )
        .await;
    assert_eq!(status, 201, "{invited}");
    let expires: chrono::DateTime<chrono::Utc> = invited["expires_at"]
        .as_str()
        .expect("expires_at")
        .parse()
        .expect("time");
    assert_eq!(expires - sent_at, chrono::Duration::seconds(30));
    s.clock.advance(chrono::Duration::seconds(31));
    s.drain().await;
    let (_, list) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(list["invitations"][0]["status"], "expired", "{list}");
}

/// Every event of `stream` with its type and metadata.
async fn recorded(
    s: &TestServer,
    stream: &str,
) -> Vec<(String, roster_eventstore::Metadata, uuid::Uuid)> {
    let stream = roster_eventstore::StreamId::new(stream).expect("stream");
    s.store
        .read_stream(&stream, 1, 1_000)
        .await
        .expect("read")
        .into_iter()
        .map(|r| (r.event_type, r.metadata, r.event_id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requests_events_share_its_id_and_the_emails_point_to_their_cause() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let invite_request = "0192c1b6-3c4a-7cde-8f00-00000000a001";
    let invited = s
        .http
        .post(format!("{}/api/orgs/{org}/invitations", s.base))
        .bearer_auth(&olive)
        .header("x-request-id", invite_request)
        .json(&json!({ "email": "ann@example.com", "full_name": "Ann Lee", "role": "admin" }))
        .send()
        .await
        .expect("answer");
    assert_eq!(invited.status().as_u16(), 201);
    let invitation: roster_domain::InvitationId =
        invited.json::<serde_json::Value>().await.expect("json")["invitation_id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid");
    s.drain().await;
    let token = s.token_of(org, invitation).await;
    let accepted = s
        .http
        .post(format!("{}/api/invitations/accept", s.base))
        .header("x-request-id", "accept-by-ann")
        .json(&json!({ "token": token, "full_name": "Ann Lee", "password": roster_tests::http::PASSWORD }))
        .send()
        .await
        .expect("answer");
    assert_eq!(accepted.status().as_u16(), 201);
    let user = accepted.json::<serde_json::Value>().await.expect("json")["user_id"]
        .as_str()
        .expect("user")
        .to_owned();

    let org_events = recorded(&s, &org.stream_name()).await;
    let of = |kind: &str| {
        // The newest: the owner's own invitation came first, from the CLI.
        org_events
            .iter()
            .rev()
            .find(|(t, _, _)| t == kind)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} in {org_events:?}"))
    };
    let (_, invite_meta, invite_id) = of("UserInvited");
    assert_eq!(invite_meta.request_id.as_deref(), Some(invite_request));
    assert_eq!(
        invite_meta.correlation_id.map(|c| c.to_string()).as_deref(),
        Some(invite_request),
        "a server-made request id is the correlation id"
    );
    let (_, sent_meta, _) = of("InvitationEmailSent");
    assert_eq!(
        sent_meta.causation_id,
        Some(invite_id),
        "the email points to its invitation"
    );
    assert_eq!(
        sent_meta.correlation_id, invite_meta.correlation_id,
        "and to the request that asked"
    );

    let (_, accept_meta, _) = of("InvitationAccepted");
    let identity = recorded(&s, &format!("user-{user}")).await;
    assert!(!identity.is_empty());
    for (kind, meta, _) in identity.iter().take(1) {
        assert_eq!(meta.request_id.as_deref(), Some("accept-by-ann"), "{kind}");
        assert_eq!(
            meta.correlation_id, accept_meta.correlation_id,
            "the two streams' events of one accept share one correlation id ({kind})"
        );
    }

    // `roster history --request` shows each request's whole chain, across streams.
    let chain = |correlation: uuid::Uuid| {
        let store = s.store.clone();
        let read = s.read.clone();
        async move {
            let args = roster::HistoryArgs {
                org: None,
                request: Some(correlation),
                format: roster::HistoryFormat::Jsonl,
                since: None,
                until: None,
                event_type: None,
                actor: None,
                subject: None,
            };
            let mut out = Vec::new();
            roster::audit::history(&read, store, &args, &mut out)
                .await
                .expect("history --request");
            String::from_utf8(out)
                .expect("utf-8")
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
                .collect::<Vec<_>>()
        }
    };
    let invite_chain = chain(invite_meta.correlation_id.expect("correlation")).await;
    let kinds: Vec<&str> = invite_chain
        .iter()
        .map(|l| l["event_type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        ["UserInvited", "InvitationEmailSent"],
        "{invite_chain:?}"
    );
    assert_eq!(
        invite_chain[1]["causation_id"], invite_chain[0]["event_id"],
        "the worker's event names its cause"
    );
    let accept_chain = chain(accept_meta.correlation_id.expect("correlation")).await;
    let streams: std::collections::BTreeSet<String> = accept_chain
        .iter()
        .map(|l| l["stream_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        accept_chain
            .iter()
            .any(|l| l["event_type"] == "InvitationAccepted")
            && streams.contains(&format!("org-{org}"))
            && streams.contains(&format!("user-{user}")),
        "one accept's chain spans both streams: {accept_chain:?}"
    );
}
