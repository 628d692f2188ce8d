//! Organization API keys over HTTP: created by owners and shown once, acting
//! only within their organization and scopes, recorded as the actor of what
//! they change, refused at once when revoked (on another instance too) or
//! expired, and never stored in clear.

use roster::ShapeArg;
use roster_storage::db::Db;
use roster_tests::http::TestServer;
use serde_json::{json, Value};

async fn create(s: &TestServer, org: roster_domain::OrgId, owner: &str, body: Value) -> Value {
    let (status, created) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/api-keys"),
            Some(owner),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created
}

fn key_of(created: &Value) -> String {
    created["key"].as_str().expect("key").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_acts_only_within_its_organization_and_scopes_and_is_recorded_as_the_actor() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let (other_org, _, _) = s
        .org_with_owner(ShapeArg::Single, "bob@other.io", vec![])
        .await;
    let reader = create(
        &s,
        org,
        &olive,
        json!({ "name": "Dashboard", "scopes": ["read"] }),
    )
    .await;
    let read_key = key_of(&reader);
    assert!(read_key.starts_with("rst_"), "{reader}");
    assert_eq!(reader["prefix"], read_key[..12], "{reader}");

    // The list never holds a secret.
    let (status, list) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/api-keys"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["api_keys"][0]["name"], "Dashboard");
    assert_eq!(list["api_keys"][0]["status"], "active");
    assert_eq!(list["api_keys"][0]["scopes"], json!(["read"]));
    assert!(!list.to_string().contains(&read_key[12..]), "{list}");

    // Read: yes. Change: no. Another organization, a person's routes, keys: no.
    let members = format!("/api/orgs/{org}/members");
    let (status, _) = s.call("GET", &members, Some(&read_key), None).await;
    assert_eq!(status, 200);
    let invite = json!({ "email": "ann@acme.io", "full_name": "Ann", "role": "standard" });
    let invitations = format!("/api/orgs/{org}/invitations");
    let (status, refused) = s
        .call("POST", &invitations, Some(&read_key), Some(invite.clone()))
        .await;
    assert_eq!(
        (status, TestServer::rule(&refused)),
        (403, "api-key-scope"),
        "{refused}"
    );
    assert_eq!(refused["needed_scope"], "manage");
    let (status, _) = s
        .call(
            "GET",
            &format!("/api/orgs/{other_org}/members"),
            Some(&read_key),
            None,
        )
        .await;
    assert_eq!(status, 404, "a key names nothing outside its organization");
    let (status, _) = s.call("GET", "/api/me", Some(&read_key), None).await;
    assert_eq!(status, 401, "a key is not a session");
    // Its use is recorded where every instance reads it.
    let (_, list) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/api-keys"),
            Some(&olive),
            None,
        )
        .await;
    assert!(list["api_keys"][0]["last_used_at"].is_string(), "{list}");
    let (status, refused) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/api-keys"),
            Some(&read_key),
            None,
        )
        .await;
    assert_eq!(
        (status, TestServer::rule(&refused)),
        (403, "keys-managed-by-people")
    );

    // A manage key invites, in its own name.
    let manager = key_of(
        &create(
            &s,
            org,
            &olive,
            json!({ "name": "HR system", "scopes": ["manage"] }),
        )
        .await,
    );
    let (status, invited) = s
        .call("POST", &invitations, Some(&manager), Some(invite))
        .await;
    assert_eq!(status, 201, "{invited}");
    let (_, list) = s
        .call(
            "GET",
            &format!("{invitations}?after={}", invited["position"]),
            Some(&manager),
            None,
        )
        .await;
    assert!(
        list["invitations"][0]["invited_by"]
            .as_str()
            .is_some_and(|by| by.starts_with("api-key:")),
        "{list}"
    );
    let (_, history) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/history?after={}", invited["position"]),
            Some(&olive),
            None,
        )
        .await;
    assert!(
        history
            .to_string()
            .contains("The API key “HR system” invited Ann <ann@acme.io>"),
        "{history}"
    );

    // Malformed and tampered keys are strangers.
    let mut tampered = manager.clone().into_bytes();
    tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for bad in ["rst_nothing", tampered.as_str()] {
        let (status, _) = s.call("GET", &members, Some(bad), None).await;
        assert_eq!(status, 401, "{bad}");
    }

    // Neither the log nor any table holds a key in clear.
    let Db::Pg(pool) = &s.read else {
        panic!("the test server runs on PostgreSQL")
    };
    let (found,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%'")
            .bind(&manager[12..40])
            .fetch_one(pool)
            .await
            .expect("query");
    assert_eq!(found, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_at_once_even_when_another_instance_revoked_it() {
    use roster_commands::{authorize, use_cases::api_keys};
    use roster_domain::{ApiKeyId, UserId};
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let created = create(
        &s,
        org,
        &olive,
        json!({ "name": "Sync", "scopes": ["read", "manage"] }),
    )
    .await;
    let key = key_of(&created);
    let members = format!("/api/orgs/{org}/members");
    let (status, _) = s.call("GET", &members, Some(&key), None).await;
    assert_eq!(status, 200);

    // Another instance (its own cache, the same log) revokes it.
    let other = s.another_instance();
    let (_, me) = s.call("GET", "/api/me", Some(&olive), None).await;
    let olive_id: UserId = me["user_id"].as_str().expect("id").parse().expect("uuid");
    let owner = authorize::owner_of(&other, olive_id, org)
        .await
        .expect("owner");
    let key_id: ApiKeyId = created["key_id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    api_keys::revoke_api_key(&other, &owner, key_id)
        .await
        .expect("revoked elsewhere");
    for (method, body) in [
        ("GET", None),
        (
            "POST",
            Some(json!({ "email": "x@acme.io", "full_name": "X", "role": "standard" })),
        ),
    ] {
        let path = if method == "GET" {
            members.clone()
        } else {
            format!("/api/orgs/{org}/invitations")
        };
        let (status, answer) = s.call(method, &path, Some(&key), body).await;
        assert_eq!(status, 401, "{method}: {answer}");
    }
    let (_, list) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/api-keys"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(list["api_keys"][0]["status"], "revoked", "{list}");
    let (status, again) = s
        .call(
            "DELETE",
            &format!("/api/orgs/{org}/api-keys/{key_id}"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!((status, TestServer::rule(&again)), (409, "api-key-revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_is_refused_and_bad_requests_name_their_rule() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let soon =
        (roster_eventstore::Clock::now(&s.clock) + chrono::Duration::minutes(5)).to_rfc3339();
    let key = key_of(
        &create(
            &s,
            org,
            &olive,
            json!({ "name": "Trial", "scopes": ["read"], "expires_at": soon }),
        )
        .await,
    );
    let members = format!("/api/orgs/{org}/members");
    let (status, _) = s.call("GET", &members, Some(&key), None).await;
    assert_eq!(status, 200);
    s.clock.advance(chrono::Duration::minutes(6));
    let (status, _) = s.call("GET", &members, Some(&key), None).await;
    assert_eq!(status, 401, "expired");
    let (_, list) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/api-keys"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(list["api_keys"][0]["status"], "expired");

    let keys = format!("/api/orgs/{org}/api-keys");
    for (body, status, rule) in [
        (json!({ "name": "None", "scopes": [] }), 422, "no-scopes"),
        (
            json!({ "name": "Odd", "scopes": ["admin"] }),
            422,
            "validation",
        ),
        (
            json!({ "name": " ", "scopes": ["read"] }),
            422,
            "validation",
        ),
        (
            json!({ "name": "Past", "scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z" }),
            422,
            "expiry-not-in-future",
        ),
    ] {
        let (got, answer) = s
            .call("POST", &keys, Some(&olive), Some(body.clone()))
            .await;
        assert_eq!(
            (got, TestServer::rule(&answer)),
            (status, rule),
            "{body}: {answer}"
        );
    }
    create(
        &s,
        org,
        &olive,
        json!({ "name": "Twin", "scopes": ["read"] }),
    )
    .await;
    let (status, taken) = s
        .call(
            "POST",
            &keys,
            Some(&olive),
            Some(json!({ "name": "TWIN", "scopes": ["read"] })),
        )
        .await;
    assert_eq!(
        (status, TestServer::rule(&taken)),
        (409, "api-key-name-taken")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_repeated_request_with_the_same_idempotency_key_is_answered_once() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let key = key_of(
        &create(
            &s,
            org,
            &olive,
            json!({ "name": "CI", "scopes": ["manage"] }),
        )
        .await,
    );
    let url = format!("{}/api/orgs/{org}/invitations", s.base);
    let send = || {
        s.http
            .post(&url)
            .bearer_auth(&key)
            .header("Idempotency-Key", "once")
            .json(&json!({ "email": "ida@acme.io", "full_name": "Ida", "role": "standard" }))
            .send()
    };
    let first: Value = send().await.expect("send").json().await.expect("json");
    let again = send().await.expect("send");
    assert_eq!(again.status(), 201, "the first answer, replayed");
    let again: Value = again.json().await.expect("json");
    assert_eq!(again, first);
    let (_, list) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/invitations?after={}", first["position"]),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(
        list["invitations"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
}
