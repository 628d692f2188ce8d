//! SCIM 2.0 over HTTP, read side: discovery, Users (the members) and Groups
//! (the roles) with filters, paging and attribute selection, authorized by an
//! organization API key with the `scim` scope; refusals as SCIM error bodies.

use roster::ShapeArg;
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
    assert_eq!(config["patch"]["supported"], false);
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
    let posted = s
        .http
        .post(format!("{}/scim/v2/Users", s.base))
        .bearer_auth(&scim)
        .header("content-type", "application/scim+json")
        .body(r#"{"userName":"new@acme.io"}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(
        posted.status(),
        501,
        "provisioning is not served yet, and says so"
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
