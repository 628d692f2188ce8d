//! SCIM 2.0 over HTTP, read side: discovery, Users (the members) and Groups
//! (the roles) with filters, paging and attribute selection, authorized by an
//! organization API key with the `scim` scope; refusals as SCIM error bodies.

use roster::ShapeArg;
use roster_storage::db::Db;
use roster_tests::http::TestServer;
use serde_json::{json, Value};

/// A GET with `key`: (status, content type, etag, body).
async fn scim_get(
    s: &TestServer,
    key: Option<&str>,
    path: &str,
) -> (u16, String, Option<String>, Value) {
    let mut request = s.http.get(format!("{}/scim/v2{path}", s.base));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type").unwrap_or_default();
    let etag = header("etag");
    let body = response.json().await.unwrap_or(Value::Null);
    (status, content_type, etag, body)
}

async fn key(s: &TestServer, org: roster_domain::OrgId, owner: &str, scopes: Value) -> String {
    let (status, created) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/api-keys"),
            Some(owner),
            Some(json!({ "name": format!("Directory {scopes}"), "scopes": scopes })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["key"].as_str().expect("key").to_owned()
}

fn user_names(list: &Value) -> Vec<&str> {
    list["Resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["userName"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_reads_members_as_users_and_roles_as_groups() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    for (email, role) in [
        ("ann@acme.io", "admin"),
        ("bob@acme.io", "standard"),
        ("cy@acme.io", "standard"),
    ] {
        s.member(org, &olive, email, json!({ "role": role })).await;
    }
    let (other, bob_elsewhere, _) = s
        .org_with_owner(ShapeArg::Single, "zed@other.io", vec![])
        .await;
    let scim = key(&s, org, &olive, json!(["scim"])).await;
    s.drain().await;

    // Discovery says exactly what is served.
    let (status, content_type, _, config) =
        scim_get(&s, Some(&scim), "/ServiceProviderConfig").await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/scim+json"),
        "{content_type}"
    );
    assert_eq!(config["filter"]["supported"], true);
    assert_eq!(config["patch"]["supported"], true);
    let (_, _, _, types) = scim_get(&s, Some(&scim), "/ResourceTypes").await;
    assert_eq!(types["totalResults"], 2);
    let (status, _, _, _) = scim_get(
        &s,
        Some(&scim),
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
    )
    .await;
    assert_eq!(status, 200);

    // Users: every member, paged.
    let (status, _, _, all) = scim_get(&s, Some(&scim), "/Users").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["totalResults"], 4);
    let (_, _, _, page) = scim_get(&s, Some(&scim), "/Users?startIndex=2&count=2").await;
    assert_eq!(
        (page["startIndex"].as_u64(), page["itemsPerPage"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(page["totalResults"], 4);

    // Filters: the lookups providers make, ignoring case; and a scan.
    for (filter, expected) in [
        (r#"userName eq "ANN@acme.io""#, vec!["ann@acme.io"]),
        (
            r#"emails[type eq "work"].value eq "bob@acme.io""#,
            vec!["bob@acme.io"],
        ),
        (r#"emails[type eq "home"].value eq "bob@acme.io""#, vec![]),
        (r#"userName eq "nobody@acme.io""#, vec![]),
        (r#"userName eq "zed@other.io""#, vec![]),
        (
            r#"userName sw "b" or userName sw "c""#,
            vec!["bob@acme.io", "cy@acme.io"],
        ),
        (r#"groups.value eq "admin""#, vec!["ann@acme.io"]),
    ] {
        let path = format!("/Users?filter={}", urlencoding(filter));
        let (status, _, _, found) = scim_get(&s, Some(&scim), &path).await;
        assert_eq!(status, 200, "{filter}: {found}");
        let mut names = user_names(&found);
        names.sort_unstable();
        assert_eq!(names, expected, "{filter}");
    }

    // One user, its version as ETag; attribute selection.
    let (_, _, _, ann) = scim_get(
        &s,
        Some(&scim),
        &format!(
            "/Users?filter={}",
            urlencoding(r#"userName eq "ann@acme.io""#)
        ),
    )
    .await;
    let id = ann["Resources"][0]["id"].as_str().expect("id").to_owned();
    let (status, _, etag, user) = scim_get(&s, Some(&scim), &format!("/Users/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(etag.as_deref(), user["meta"]["version"].as_str(), "{user}");
    assert_eq!(user["groups"][0]["display"], "Admin", "{user}");
    assert!(user["meta"]["location"]
        .as_str()
        .is_some_and(|l| l.ends_with(&format!("/scim/v2/Users/{id}"))));
    let (_, _, _, slim) =
        scim_get(&s, Some(&scim), &format!("/Users/{id}?attributes=userName")).await;
    let mut keys: Vec<&String> = slim.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["id", "meta", "schemas", "userName"], "{slim}");
    let (_, _, _, no_groups) = scim_get(
        &s,
        Some(&scim),
        &format!("/Users/{id}?excludedAttributes=groups"),
    )
    .await;
    assert!(no_groups.get("groups").is_none(), "{no_groups}");

    // Groups: the roles, with their members.
    let (_, _, _, groups) = scim_get(&s, Some(&scim), "/Groups").await;
    assert_eq!(groups["totalResults"], 3, "{groups}");
    let (status, _, _, standard) = scim_get(&s, Some(&scim), "/Groups/standard").await;
    assert_eq!(status, 200);
    assert_eq!(
        standard["members"].as_array().map(Vec::len),
        Some(2),
        "{standard}"
    );
    let (_, _, _, admins) = scim_get(
        &s,
        Some(&scim),
        &format!(
            "/Groups?filter={}",
            urlencoding(r#"displayName eq "admin""#)
        ),
    )
    .await;
    assert_eq!(admins["totalResults"], 1);

    // Outside the organization, nothing is found.
    let (_, me) = s.call("GET", "/api/me", Some(&bob_elsewhere), None).await;
    let stranger = me["user_id"].as_str().expect("id");
    for path in [
        format!("/Users/{stranger}"),
        "/Users/not-an-id".to_owned(),
        "/Groups/nope".to_owned(),
    ] {
        let (status, content_type, _, error) = scim_get(&s, Some(&scim), &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(content_type.starts_with("application/scim+json"));
        assert_eq!(
            error["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(error["status"], "404");
    }
    let _ = other;

    // Its owners see the latest refused requests: at most 20, never a stranger's.
    for n in 0..25 {
        let path = format!(
            "/Users?filter={}",
            urlencoding(&format!("userName zz \"{n}\""))
        );
        let (status, _, _, _) = scim_get(&s, Some(&scim), &path).await;
        assert_eq!(status, 400);
    }
    let forged = format!("rst_{}{}", "0".repeat(64), &scim[68..]);
    let (status, _, _, _) = scim_get(&s, Some(&forged), "/Users").await;
    assert_eq!(status, 401);
    let (_, sync) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/directory"),
            Some(&olive),
            None,
        )
        .await;
    let errors = sync["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 20, "{sync}");
    assert!(errors.iter().all(|e| e["status"] == 400), "{sync}");
    assert!(errors[0]["request"]
        .as_str()
        .is_some_and(|r| r.starts_with("GET /scim/v2/Users")));
    assert!(sync["last_sync_at"].is_string(), "{sync}");
    assert!(sync["endpoint"]
        .as_str()
        .is_some_and(|e| e.ends_with("/scim/v2")));
    let Db::Pg(pool) = &s.read else {
        panic!("the test server runs on PostgreSQL")
    };
    let (kept,): (i64,) = sqlx::query_as("SELECT count(*) FROM scim_errors")
        .fetch_one(pool)
        .await
        .expect("count");
    assert_eq!(kept, 20, "the table keeps no more than it shows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_working_scim_key_gets_in_and_bad_requests_get_scim_errors() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let scim = key(&s, org, &olive, json!(["scim"])).await;
    let reader = key(&s, org, &olive, json!(["read", "manage"])).await;
    for (who, token, status) in [
        ("nobody", None, 401),
        ("a session", Some(olive.as_str()), 401),
        ("a key without scim", Some(reader.as_str()), 403),
        ("a malformed key", Some("rst_123"), 401),
    ] {
        let (got, _, _, error) = scim_get(&s, token, "/Users").await;
        assert_eq!(got, status, "{who}: {error}");
        assert_eq!(error["status"], status.to_string(), "{who}");
    }
    for (filter, why) in [
        ("userName eq", "missing"),
        (r#"userName zz "a""#, "operator"),
        (
            r#"((((((((((((((((((userName eq "a"))))))))))))))))))"#,
            "deeper",
        ),
    ] {
        let (status, _, _, error) = scim_get(
            &s,
            Some(&scim),
            &format!("/Users?filter={}", urlencoding(filter)),
        )
        .await;
        assert_eq!(
            (status, error["scimType"].as_str()),
            (400, Some("invalidFilter")),
            "{filter}"
        );
        assert!(
            error["detail"].as_str().is_some_and(|d| d.contains(why)),
            "{error}"
        );
    }
    let long = format!(
        "/Users?filter={}",
        urlencoding(&format!(r#"userName eq "{}""#, "a".repeat(5000)))
    );
    let (status, _, _, error) = scim_get(&s, Some(&scim), &long).await;
    assert_eq!(
        (status, error["scimType"].as_str()),
        (400, Some("invalidFilter"))
    );
    let (status, _, _, page) = scim_get(&s, Some(&scim), "/Users?count=100000&startIndex=-5").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["startIndex"], 1);
    let (status, _, _, _) = scim_get(&s, Some(&scim), "/Nope").await;
    assert_eq!(status, 404);
    // A deep or overlong PATCH path is refused, not followed.
    let (_, _, _, all) = scim_get(&s, Some(&scim), "/Users").await;
    let olive_id = all["Resources"][0]["id"].as_str().expect("id").to_owned();
    let deep = format!("name.{}", "a.".repeat(200));
    let (status, _, error) = scim_send(
        &s,
        &scim,
        reqwest::Method::PATCH,
        &format!("/Users/{olive_id}"),
        Some(json!({ "Operations": [{ "op": "replace", "path": deep, "value": "x" }] })),
        None,
    )
    .await;
    assert_eq!(
        (status, error["scimType"].as_str()),
        (400, Some("invalidPath")),
        "{error}"
    );
    let posted = s
        .http
        .post(format!("{}/scim/v2/Groups", s.base))
        .bearer_auth(&scim)
        .header("content-type", "application/scim+json")
        .body(r#"{"displayName":"Auditors"}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(
        posted.status(),
        501,
        "roles are fixed: a group is not created, and it says so"
    );
    // A revoked key is refused at once.
    let (_, keys) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/api-keys"),
            Some(&olive),
            None,
        )
        .await;
    let scim_key_id = keys["api_keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["scopes"] == json!(["scim"]))
        .expect("the scim key")["key_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/api/orgs/{org}/api-keys/{scim_key_id}"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, _, error) = scim_get(&s, Some(&scim), "/Users").await;
    assert_eq!(
        (status, error["status"].as_str()),
        (401, Some("401")),
        "{error}"
    );
}

/// Percent-encodes a query value.
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A write with `key`: (status, headers, body).
async fn scim_send(
    s: &TestServer,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = s
        .http
        .request(method, format!("{}/scim/v2{path}", s.base))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    if let Some(v) = if_match {
        request = request.header("if-match", v);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// The activation (reset) link in the newest email to `to`: (user id, token).
fn activation_link(s: &TestServer, to: &str) -> (String, String) {
    let email = s
        .sink
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.to.iter().any(|t| t.contains(to)))
        .expect("an email");
    let body = email.data.replace("=\r\n", "").replace("=3D", "=");
    let prefix = format!("{}/reset-password/", roster_tests::http::PUBLIC_URL);
    let at = body.find(&prefix).expect("a link") + prefix.len();
    let mut parts = body[at..].split(['/', '\r', '\n']);
    let user = parts.next().expect("user").to_owned();
    let token = parts.next().expect("token").to_owned();
    (user, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_provisions_suspends_restores_and_removes_a_person_as_okta_and_entra_do() {
    use reqwest::Method;
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let scim = key(&s, org, &olive, json!(["scim"])).await;
    s.invite(
        org,
        &olive,
        json!({ "email": "nia@acme.io", "full_name": "Nia", "role": "admin" }),
    )
    .await;

    // Okta: look the person up by userName, then create them.
    let lookup = format!(
        "/Users?filter={}",
        urlencoding(r#"userName eq "nia@acme.io""#)
    );
    let (_, _, _, none) = scim_get(&s, Some(&scim), &lookup).await;
    assert_eq!(none["totalResults"], 0);
    let create = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "nia@acme.io",
        "name": { "givenName": "Nia", "familyName": "North" },
        "emails": [{ "primary": true, "value": "nia@acme.io", "type": "work" }],
        "active": true,
        "externalId": "00u1nia",
    });
    let (status, headers, user) = scim_send(
        &s,
        &scim,
        Method::POST,
        "/Users",
        Some(create.clone()),
        None,
    )
    .await;
    assert_eq!(status, 201, "{user}");
    let id = user["id"].as_str().expect("id").to_owned();
    assert_eq!(user["displayName"], "Nia North");
    assert_eq!(user["externalId"], "00u1nia");
    assert_eq!(user["active"], true);
    assert!(headers.get("location").is_some() && headers.get("etag").is_some());
    let (_, _, _, found) = scim_get(&s, Some(&scim), &lookup).await;
    assert_eq!(found["totalResults"], 1, "found by userName now");
    let (status, _, again) = scim_send(&s, &scim, Method::POST, "/Users", Some(create), None).await;
    assert_eq!(
        (status, again["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{again}"
    );

    // A member at once; the open invitation is replaced; an activation email sets a password.
    let (_, invitations) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/invitations"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(
        invitations["invitations"].as_array().map(Vec::len),
        Some(0),
        "{invitations}"
    );
    s.drain().await;
    let (user_in_link, token) = activation_link(&s, "nia@acme.io");
    assert_eq!(user_in_link, id);
    let (status, done) = s
        .call(
            "POST",
            "/api/password-resets/complete",
            None,
            Some(json!({ "user_id": id, "token": token, "new_password": "a long enough passphrase 7" })),
        )
        .await;
    assert!(status < 300, "{status}: {done}");
    let nia = s.sign_in("nia@acme.io", "a long enough passphrase 7").await;
    let (_, me) = s.call("GET", "/api/me", Some(&nia), None).await;
    assert_eq!(me["organizations"][0]["role"], "standard", "{me}");

    // Entra: deactivate with a capitalised op and a string boolean.
    s.clock.advance(chrono::Duration::seconds(5));
    let (status, _, current) =
        scim_send(&s, &scim, Method::GET, &format!("/Users/{id}"), None, None).await;
    assert_eq!(status, 200);
    let version = current["meta"]["version"]
        .as_str()
        .expect("version")
        .to_owned();
    let off = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "Replace", "path": "active", "value": "False" }],
    });
    let (status, _, stale) = scim_send(
        &s,
        &scim,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(off.clone()),
        Some("W/\"0000\""),
    )
    .await;
    assert_eq!(status, 412, "a stale If-Match: {stale}");
    let (status, _, suspended) = scim_send(
        &s,
        &scim,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(off),
        Some(&version),
    )
    .await;
    assert_eq!(status, 200, "{suspended}");
    assert_eq!(suspended["active"], false);
    assert_ne!(
        suspended["meta"]["lastModified"], user["meta"]["lastModified"],
        "the change shows in lastModified"
    );
    let (status, _) = s.call("GET", "/api/me", Some(&nia), None).await;
    assert_eq!(status, 401, "a suspended person is signed out everywhere");
    let nia = s.sign_in("nia@acme.io", "a long enough passphrase 7").await;
    let (_, me) = s.call("GET", "/api/me", Some(&nia), None).await;
    assert_eq!(
        me["organizations"].as_array().map(Vec::len),
        Some(0),
        "no access while suspended: {me}"
    );
    let (_, members) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/members?search=nia"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(
        members["members"].as_array().map(Vec::len),
        Some(1),
        "still listed: {members}"
    );

    // Okta: reactivate with a PUT; a changed userName is refused.
    let mut put = current.clone();
    put["active"] = json!(true);
    let (status, _, restored) = scim_send(
        &s,
        &scim,
        Method::PUT,
        &format!("/Users/{id}"),
        Some(put.clone()),
        None,
    )
    .await;
    assert_eq!(
        (status, &restored["active"]),
        (200, &json!(true)),
        "{restored}"
    );
    put["userName"] = json!("someone.else@acme.io");
    let (status, _, refused) = scim_send(
        &s,
        &scim,
        Method::PUT,
        &format!("/Users/{id}"),
        Some(put),
        None,
    )
    .await;
    assert_eq!(
        (status, refused["scimType"].as_str()),
        (400, Some("mutability")),
        "{refused}"
    );

    // Entra: a name change and a new id, as a value object.
    let rename = json!({ "Operations": [{ "op": "Replace", "value": { "displayName": "Nia North-West", "externalId": "00u1nia-2" } }] });
    let (status, _, renamed) = scim_send(
        &s,
        &scim,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(rename),
        None,
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(
        (&renamed["displayName"], &renamed["externalId"]),
        (&json!("Nia North-West"), &json!("00u1nia-2"))
    );
    let (_, members) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/members?search=nia"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(
        members["members"][0]["full_name"], "Nia North-West",
        "{members}"
    );

    // The last owner is safe from the directory.
    let (_, _, _, owners) = scim_get(
        &s,
        Some(&scim),
        &format!(
            "/Users?filter={}",
            urlencoding(r#"userName eq "olive@acme.io""#)
        ),
    )
    .await;
    let olive_id = owners["Resources"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let off = json!({ "Operations": [{ "op": "replace", "value": { "active": false } }] });
    let (status, _, refused) = scim_send(
        &s,
        &scim,
        Method::PATCH,
        &format!("/Users/{olive_id}"),
        Some(off),
        None,
    )
    .await;
    assert_eq!(
        (status, refused["scimType"].as_str()),
        (400, Some("mutability")),
        "{refused}"
    );
    let (status, _, _) = scim_send(
        &s,
        &scim,
        Method::DELETE,
        &format!("/Users/{olive_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 400);

    // Delete removes; the history tells the whole story in the key's name.
    let (status, _, _) = scim_send(
        &s,
        &scim,
        Method::DELETE,
        &format!("/Users/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _, _) = scim_get(&s, Some(&scim), &format!("/Users/{id}")).await;
    assert_eq!(status, 404);
    let (_, history) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/history?order=newest&limit=10"),
            Some(&olive),
            None,
        )
        .await;
    let story = history.to_string();
    let by_directory: Vec<&Value> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| {
            e["summary"]
                .as_str()
                .is_some_and(|s| s.contains("Nia North"))
        })
        .collect();
    assert!(!by_directory.is_empty());
    assert!(
        by_directory.iter().all(|e| e["source"] == "scim"),
        "what the directory did is recorded as coming from SCIM: {history}"
    );
    for line in [
        "from the directory (external id 00u1nia)",
        "suspended Nia North",
        "restored Nia North",
        "renamed Nia North to Nia North-West",
        "removed Nia North-West",
    ] {
        assert!(story.contains(line), "{line}: {story}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_already_has_an_identity_is_linked_not_duplicated() {
    use reqwest::Method;
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    // Sam owns another organization already.
    let (_, sam, _) = s
        .org_with_owner(ShapeArg::Single, "sam@acme.io", vec![])
        .await;
    let (_, me) = s.call("GET", "/api/me", Some(&sam), None).await;
    let scim = key(&s, org, &olive, json!(["scim"])).await;
    let (status, _, user) = scim_send(
        &s,
        &scim,
        Method::POST,
        "/Users",
        Some(json!({ "userName": "SAM@acme.io", "active": false })),
        None,
    )
    .await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["id"], me["user_id"], "the same person");
    assert_eq!(user["active"], false, "added suspended, as asked");
    let (status, _, bad) = scim_send(
        &s,
        &scim,
        Method::POST,
        "/Users",
        Some(json!({ "userName": "not an address" })),
        None,
    )
    .await;
    assert_eq!(
        (status, bad["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{bad}"
    );
    for body in ["{", "[]", r#"{"Operations": "x"}"#] {
        let response = s
            .http
            .patch(format!(
                "{}/scim/v2/Users/{}",
                s.base,
                me["user_id"].as_str().expect("id")
            ))
            .bearer_auth(&scim)
            .header("content-type", "application/scim+json")
            .body(body)
            .send()
            .await
            .expect("patch");
        assert_eq!(response.status(), 400, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_push_changes_roles_and_keeps_the_last_owner() {
    use reqwest::Method;
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let (ann, _, _) = s
        .member(org, &olive, "ann@acme.io", json!({ "role": "standard" }))
        .await;
    let (bob, _, _) = s
        .member(org, &olive, "bob@acme.io", json!({ "role": "standard" }))
        .await;
    let scim = key(&s, org, &olive, json!(["scim"])).await;
    let role_of = |user: String| {
        let s = &s;
        let scim = scim.clone();
        async move {
            let (_, _, _, u) = scim_get(s, Some(&scim), &format!("/Users/{user}")).await;
            u["groups"][0]["value"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    // Okta: add to a group (value list), remove by path.
    let add = json!({ "Operations": [{ "op": "add", "path": "members", "value": [{ "value": ann }, { "value": bob }] }] });
    let (status, _, group) =
        scim_send(&s, &scim, Method::PATCH, "/Groups/admin", Some(add), None).await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(
        group["members"].as_array().map(Vec::len),
        Some(2),
        "{group}"
    );
    assert_eq!(role_of(ann.clone()).await, "admin");
    let remove = json!({ "Operations": [{ "op": "Remove", "path": format!("members[value eq \"{bob}\"]") }] });
    let (status, _, group) = scim_send(
        &s,
        &scim,
        Method::PATCH,
        "/Groups/admin",
        Some(remove),
        None,
    )
    .await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(
        role_of(bob.clone()).await,
        "standard",
        "back to the default role"
    );
    // Entra: the whole membership with PUT.
    let put = json!({ "displayName": "Owner", "members": [{ "value": ann }] });
    let (_, _, _, owners) = scim_get(&s, Some(&scim), "/Groups/owner").await;
    let olive_id = owners["members"][0]["value"]
        .as_str()
        .expect("olive")
        .to_owned();
    let (status, _, group) =
        scim_send(&s, &scim, Method::PUT, "/Groups/owner", Some(put), None).await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(role_of(ann.clone()).await, "owner", "added first");
    assert_eq!(
        role_of(olive_id.clone()).await,
        "standard",
        "then the others left"
    );
    // The last owner stays.
    let remove = json!({ "Operations": [{ "op": "remove", "path": "members", "value": [{ "value": ann }] }] });
    let (status, _, refused) = scim_send(
        &s,
        &scim,
        Method::PATCH,
        "/Groups/owner",
        Some(remove),
        None,
    )
    .await;
    assert_eq!(
        (status, refused["scimType"].as_str()),
        (400, Some("mutability")),
        "{refused}"
    );
    for (body, why) in [
        (
            json!({ "Operations": [{ "op": "add", "path": "members", "value": [{ "value": "nobody" }] }] }),
            "not a user id",
        ),
        (
            json!({ "Operations": [{ "op": "remove", "path": "members[value co \"x\"]" }] }),
            "members[value eq",
        ),
        (
            json!({ "Operations": [{ "op": "add", "path": "name.deep.path.here", "value": 1 }] }),
            "not supported",
        ),
    ] {
        let (status, _, error) =
            scim_send(&s, &scim, Method::PATCH, "/Groups/admin", Some(body), None).await;
        assert_eq!(status, 400, "{error}");
        assert!(
            error["detail"].as_str().is_some_and(|d| d.contains(why)),
            "{why}: {error}"
        );
    }
    let (status, _, _) = scim_send(&s, &scim, Method::DELETE, "/Groups/admin", None, None).await;
    assert_eq!(status, 501, "roles are neither created nor deleted");
}
