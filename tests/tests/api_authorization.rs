//! Every organization route × every kind of caller, with the status each must get;
//! plus CSRF, sign-in throttling, request ids and the auditor's routes.

use roster::ShapeArg;
use roster_commands::Clock;
use roster_eventstore::StreamId;
use roster_tests::http::{TestServer, PASSWORD};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_org_route_answers_every_kind_of_caller_as_specified() {
    let s = TestServer::start().await.expect("server");
    let (org, owner, _) = s
        .org_with_owner(ShapeArg::Single, "owner@s.io", vec![])
        .await;
    let (admin_id, admin, _) = s
        .member(org, &owner, "admin@s.io", json!({ "role": "admin" }))
        .await;
    let (_, standard, _) = s
        .member(org, &owner, "standard@s.io", json!({ "role": "standard" }))
        .await;
    let (multi, other_owner, _) = s
        .org_with_owner(ShapeArg::Multi, "owner@m.io", vec!["Europe".into()])
        .await;
    let (status, accounts) = s
        .call(
            "GET",
            &format!("/api/orgs/{multi}/accounts"),
            Some(&other_owner),
            None,
        )
        .await;
    assert_eq!(status, 200, "{accounts}");
    let europe = accounts["accounts"][0]["account_id"]
        .as_str()
        .expect("account")
        .to_owned();
    let (_, contributor, last) = s.member(multi, &other_owner, "c@m.io", json!({ "org_role": "contributor", "accounts": [{ "account_id": europe, "role": "admin" }] })).await;
    let signed_out = s.sign_in("standard@s.io", PASSWORD).await;
    assert_eq!(
        s.call("DELETE", "/api/sessions/current", Some(&signed_out), None)
            .await
            .0,
        204
    );
    // Let every read model catch up before the table runs.
    assert_eq!(
        s.call(
            "GET",
            &format!("/api/orgs/{multi}/members?after={last}"),
            Some(&other_owner),
            None
        )
        .await
        .0,
        200
    );

    let ghost = uuid::Uuid::now_v7();
    let routes: Vec<(&str, String, Option<Value>, u16)> = vec![
        ("GET", format!("/api/orgs/{org}/members"), None, 200),
        (
            "GET",
            format!("/api/orgs/{org}/members?as_of=2030-01-01T00:00:00Z"),
            None,
            200,
        ),
        (
            "PATCH",
            format!("/api/orgs/{org}/members/{admin_id}"),
            Some(json!({ "role": "admin" })),
            200,
        ),
        (
            "DELETE",
            format!("/api/orgs/{org}/members/{ghost}"),
            None,
            404,
        ),
        ("GET", format!("/api/orgs/{org}/invitations"), None, 200),
        (
            "POST",
            format!("/api/orgs/{org}/invitations"),
            Some(json!({ "email": "new@s.io", "full_name": "New", "role": "standard" })),
            201,
        ),
        (
            "POST",
            format!("/api/orgs/{org}/invitations/bulk"),
            Some(
                json!({ "invitations": [{ "email": "bulk@s.io", "full_name": "Bulk", "role": "standard" }] }),
            ),
            200,
        ),
        (
            "POST",
            format!("/api/orgs/{org}/invitations/{ghost}/resend"),
            None,
            404,
        ),
        (
            "DELETE",
            format!("/api/orgs/{org}/invitations/{ghost}"),
            None,
            404,
        ),
        (
            "PATCH",
            format!("/api/orgs/{org}/invitations/{ghost}"),
            Some(json!({ "role": "admin" })),
            404,
        ),
        ("GET", format!("/api/orgs/{org}/accounts"), None, 200),
        (
            "PATCH",
            format!("/api/orgs/{org}/accounts/{ghost}"),
            Some(json!({ "name": "Asia" })),
            422,
        ),
        (
            "POST",
            format!("/api/orgs/{org}/accounts"),
            Some(json!({ "name": "Asia" })),
            422,
        ),
        ("GET", format!("/api/orgs/{org}/history"), None, 200),
        ("GET", format!("/api/orgs/{org}/api-keys"), None, 200),
        (
            "DELETE",
            format!("/api/orgs/{org}/api-keys/{ghost}"),
            None,
            404,
        ),
    ];
    let callers: Vec<(&str, Option<&str>, Option<u16>)> = vec![
        ("owner", Some(&owner), None),
        ("admin", Some(&admin), Some(403)),
        ("standard", Some(&standard), Some(403)),
        ("contributor of another org", Some(&contributor), Some(404)),
        ("owner of another org", Some(&other_owner), Some(404)),
        ("anonymous", None, Some(401)),
        ("signed-out session", Some(&signed_out), Some(401)),
    ];
    let mut failures = Vec::new();
    for (who, token, expected_for_caller) in &callers {
        for (method, path, body, owner_status) in &routes {
            let expected = expected_for_caller.unwrap_or(*owner_status);
            let (status, answer) = s.call(method, path, *token, body.clone()).await;
            if status != expected {
                failures.push(format!(
                    "{who}: {method} {path} → {status}, expected {expected}: {answer}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_sessions_need_a_same_origin_request_to_change_anything() {
    let s = TestServer::start().await.expect("server");
    let (org, _owner, _) = s
        .org_with_owner(ShapeArg::Single, "owner@csrf.io", vec![])
        .await;
    let session = s.sign_in("owner@csrf.io", PASSWORD).await;
    let cookie = format!("roster_session={session}");
    let url = format!("{}/api/orgs/{org}/invitations", s.base);
    let body = json!({ "email": "x@csrf.io", "full_name": "X", "role": "standard" });
    let host = s.base.trim_start_matches("http://").to_owned();
    let cross = s
        .http
        .post(&url)
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(cross.status().as_u16(), 403);
    let problem: Value = cross.json().await.expect("json");
    assert_eq!(
        problem["type"],
        "https://roster.dev/problems/cross-site-request"
    );
    // With an Idempotency-Key too, refused before the session is looked up: the
    // other site stores nothing under the victim's name.
    let keyed = s
        .http
        .post(&url)
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .header("idempotency-key", "planted")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(keyed.status().as_u16(), 403);
    let (keys,) = roster_storage::fetch!(
        db & s.read,
        fetch_one,
        (i64,),
        "SELECT count(*) FROM idempotency_keys"
    )
    .expect("count");
    assert_eq!(keys, 0, "no key was stored for the cross-site request");
    let missing = s
        .http
        .post(&url)
        .header("cookie", &cookie)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(
        missing.status().as_u16(),
        403,
        "no Origin at all is refused too"
    );
    let read = s
        .http
        .get(&url)
        .header("cookie", &cookie)
        .send()
        .await
        .expect("send");
    assert_eq!(read.status().as_u16(), 200, "reads need no Origin");
    let same = s
        .http
        .post(&url)
        .header("cookie", &cookie)
        .header("origin", format!("http://{host}"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(same.status().as_u16(), 201);
    assert!(
        same.headers().get("x-request-id").is_some(),
        "every answer carries a request id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_sign_ins_are_throttled_with_retry_after() {
    let s = TestServer::start().await.expect("server");
    s.org_with_owner(ShapeArg::Single, "owner@throttle.io", vec![])
        .await;
    for _ in 0..roster_commands::identity::throttle::PER_ACCOUNT {
        let (status, _) = s
            .call(
                "POST",
                "/api/sessions",
                None,
                Some(json!({ "email": "owner@throttle.io", "password": "wrong wrong wrong" })),
            )
            .await;
        assert_eq!(status, 401);
    }
    let res = s
        .http
        .post(format!("{}/api/sessions", s.base))
        .json(&json!({ "email": "owner@throttle.io", "password": PASSWORD }))
        .send()
        .await
        .expect("send");
    assert_eq!(
        res.status().as_u16(),
        429,
        "even the right password waits once throttled"
    );
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!(retry > 0 && retry <= 900);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auditor_reads_history_and_the_member_list_as_it_was() {
    let s = TestServer::start().await.expect("server");
    let (org, owner, _) = s
        .org_with_owner(ShapeArg::Single, "owner@audit.io", vec![])
        .await;
    let before_ann = s.clock.now();
    s.clock.advance(chrono::Duration::seconds(1));
    let (ann, _, position) = s
        .member(org, &owner, "ann@audit.io", json!({ "role": "admin" }))
        .await;
    let (status, history) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/history?after={position}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 200, "{history}");
    let types: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "OrganizationCreated",
            "UserInvited",
            "InvitationAccepted",
            "UserInvited",
            "InvitationAccepted"
        ]
    );
    let (_, only) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/history?type=InvitationAccepted&subject={ann}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(only["events"].as_array().map(Vec::len), Some(1));
    // Paging two at a time yields the same events as one page.
    let all: Vec<Value> = history["events"].as_array().expect("events").clone();
    let mut paged: Vec<Value> = Vec::new();
    let mut cursor = 0i64;
    loop {
        let (_, page) = s
            .call(
                "GET",
                &format!("/api/orgs/{org}/history?limit=2&cursor={cursor}"),
                Some(&owner),
                None,
            )
            .await;
        let events = page["events"].as_array().expect("events").clone();
        assert!(events.len() <= 2);
        paged.extend(events);
        match page["next_cursor"].as_i64() {
            Some(next) => cursor = next,
            None => break,
        }
    }
    let positions = |v: &[Value]| {
        v.iter()
            .filter_map(|e| e["position"].as_i64())
            .collect::<Vec<_>>()
    };
    assert_eq!(positions(&paged)[..all.len()], positions(&all)[..]);
    // Newest first, as the page reads it: the same events backwards, page by page.
    let mut newest: Vec<Value> = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        let from = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (status, page) = s
            .call(
                "GET",
                &format!("/api/orgs/{org}/history?order=newest&limit=2{from}"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        newest.extend(page["events"].as_array().expect("events").clone());
        match page["next_cursor"].as_i64() {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut backwards = positions(&all);
    backwards.reverse();
    assert_eq!(positions(&newest), backwards);
    let (status, bad) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/history?order=sideways"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 422, "an unknown order is refused: {bad}");
    assert!(bad["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("`oldest` or `newest`"));

    let at = before_ann
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        .replace('+', "%2B");
    let (status, then) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/members?as_of={at}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, 200, "{then}");
    let emails: Vec<&str> = then["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["email"].as_str())
        .collect();
    assert_eq!(emails, ["owner@audit.io"], "Ann had not joined yet");
    let (_, now) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/members?as_of=2100-01-01T00:00:00Z"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(now["members"].as_array().map(Vec::len), Some(2));
    let (status, bad) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/members?as_of=yesterday"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(
        (status, bad["type"].as_str()),
        (422, Some("https://roster.dev/problems/validation"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_idempotency_key_returns_the_first_answer_and_appends_nothing() {
    let s = TestServer::start().await.expect("server");
    let (org, owner, _) = s
        .org_with_owner(ShapeArg::Single, "owner@idem.io", vec![])
        .await;
    let url = format!("{}/api/orgs/{org}/invitations", s.base);
    let body = json!({ "email": "ann@idem.io", "full_name": "Ann", "role": "admin" });
    let send = |body: Value, key: &'static str| {
        let (http, url, owner) = (s.http.clone(), url.clone(), owner.clone());
        async move {
            let res = http
                .post(url)
                .bearer_auth(owner)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .expect("send");
            let replayed = res.headers().get("idempotent-replayed").is_some();
            (
                res.status().as_u16(),
                replayed,
                res.json::<Value>().await.expect("json"),
            )
        }
    };
    let (first_status, first_replayed, first) = send(body.clone(), "key-1").await;
    assert_eq!((first_status, first_replayed), (201, false), "{first}");
    let (again_status, again_replayed, again) = send(body.clone(), "key-1").await;
    assert_eq!((again_status, again_replayed), (201, true));
    assert_eq!(again, first, "the stored first answer comes back");
    let (status, _, mismatch) = send(
        json!({ "email": "bob@idem.io", "full_name": "Bob", "role": "admin" }),
        "key-1",
    )
    .await;
    assert_eq!(
        (status, mismatch["type"].as_str()),
        (
            422,
            Some("https://roster.dev/problems/idempotency-key-reused")
        )
    );
    let stream = StreamId::new(org.stream_name()).expect("stream");
    let invited = s
        .store
        .read_stream(&stream, 1, 100)
        .await
        .expect("read")
        .iter()
        .filter(|r| r.event_type == "UserInvited")
        .count();
    assert_eq!(
        invited, 2,
        "the owner's bootstrap invitation and Ann's, once"
    );
    let (status, _, fresh) = send(body, "key-2").await;
    assert_eq!(
        (status, fresh["type"].as_str()),
        (409, Some("https://roster.dev/problems/already-invited")),
        "a new key runs the command again"
    );
}

/// Every operation the API offers, as the design lists them.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("post", "/api/sessions"),
    ("delete", "/api/sessions"),
    ("post", "/api/password-resets"),
    ("post", "/api/password-resets/complete"),
    ("delete", "/api/sessions/current"),
    ("get", "/api/me"),
    ("post", "/api/me/password"),
    ("get", "/api/orgs/{org}/members"),
    ("patch", "/api/orgs/{org}/members/{user}"),
    ("delete", "/api/orgs/{org}/members/{user}"),
    ("delete", "/api/orgs/{org}/membership"),
    ("get", "/api/orgs/{org}/invitations"),
    ("post", "/api/orgs/{org}/invitations"),
    ("post", "/api/orgs/{org}/invitations/bulk"),
    ("post", "/api/orgs/{org}/invitations/{id}/resend"),
    ("delete", "/api/orgs/{org}/invitations/{id}"),
    ("patch", "/api/orgs/{org}/invitations/{id}"),
    ("get", "/api/orgs/{org}/accounts"),
    ("post", "/api/orgs/{org}/accounts"),
    ("patch", "/api/orgs/{org}/accounts/{account}"),
    ("get", "/api/orgs/{org}/api-keys"),
    ("post", "/api/orgs/{org}/api-keys"),
    ("delete", "/api/orgs/{org}/api-keys/{key}"),
    ("get", "/api/orgs/{org}/directory"),
    ("get", "/api/orgs/{org}/sso"),
    ("put", "/api/orgs/{org}/sso"),
    ("delete", "/api/orgs/{org}/sso"),
    ("post", "/api/sso/method"),
    ("post", "/api/sso/start"),
    ("post", "/api/sso/confirm"),
    ("get", "/api/orgs/{org}/history"),
    ("get", "/api/orgs/{org}/events"),
    ("get", "/api/invitations/{token}"),
    ("post", "/api/invitations/accept"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_exactly_the_designed_operations_and_each_is_served() {
    let s = TestServer::start().await.expect("server");
    let (status, spec) = s.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(spec["openapi"], "3.1.0");
    let mut documented: Vec<(String, String)> = spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flat_map(|ops| ops.keys())
                .filter(|m| ["get", "post", "patch", "put", "delete"].contains(&m.as_str()))
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut designed: Vec<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    designed.sort();
    assert_eq!(documented, designed);
    let ghost = uuid::Uuid::now_v7();
    for (method, route) in OPERATIONS {
        let path = route
            .replace("{org}", &ghost.to_string())
            .replace("{user}", &ghost.to_string())
            .replace("{id}", &ghost.to_string())
            .replace("{account}", &ghost.to_string())
            .replace("{key}", &ghost.to_string())
            .replace("{token}", "deadbeef");
        let body = matches!(*method, "post" | "patch" | "put").then(|| json!({}));
        let (status, answer) = s.call(&method.to_uppercase(), &path, None, body).await;
        assert_ne!(status, 405, "{method} {route} is routed");
        assert_ne!(
            answer["type"], "https://roster.dev/problems/not-found",
            "{method} {route} is routed"
        );
    }
}

/// A command is authorized on the server's cached organization (no read of the
/// log first), so a cache another instance made stale must not let a demoted
/// owner through: the command's own decision, after its append conflicts and
/// the log is read, refuses it. Reads check against the log itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_demoted_on_another_instance_is_refused_at_once_by_this_one() {
    use roster_commands::{authorize, use_cases::change_role};
    use roster_domain::{Role, SingleRole, UserId};
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@s.io", vec![])
        .await;
    let (otto_id, otto, _) = s
        .member(org, &olive, "otto@s.io", json!({ "role": "owner" }))
        .await;
    // Otto's command loads this server's cache of the organization.
    s.invite(
        org,
        &otto,
        json!({ "email": "a@s.io", "full_name": "A", "role": "standard" }),
    )
    .await;
    // Another instance (its own cache, the same log) demotes Otto.
    let other = s.another_instance();
    let (_, me) = s.call("GET", "/api/me", Some(&olive), None).await;
    let olive_id: UserId = me["user_id"].as_str().expect("id").parse().expect("uuid");
    let otto_id: UserId = otto_id.parse().expect("uuid");
    let owner = authorize::owner_of(&other, olive_id, org)
        .await
        .expect("olive owns it");
    change_role::change_role(&other, &owner, otto_id, Role::Single(SingleRole::Standard))
        .await
        .expect("demoted elsewhere");
    // This server still has Otto as an owner in its cache.
    let (status, refused) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&otto),
            Some(json!({ "email": "b@s.io", "full_name": "B", "role": "standard" })),
        )
        .await;
    assert_eq!(
        (status, TestServer::rule(&refused)),
        (403, "not-an-owner"),
        "{refused}"
    );
    let (status, _) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/members"),
            Some(&otto),
            None,
        )
        .await;
    assert_eq!(status, 403, "reads check the log itself");
    // And the other way round: promoted elsewhere, allowed here at once.
    change_role::change_role(&other, &owner, otto_id, Role::Single(SingleRole::Owner))
        .await
        .expect("promoted elsewhere");
    let (status, invited) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations"),
            Some(&otto),
            Some(json!({ "email": "b@s.io", "full_name": "B", "role": "standard" })),
        )
        .await;
    assert_eq!(status, 201, "{invited}");
}
