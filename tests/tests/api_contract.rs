//! The OpenAPI document is a contract: every request and response body has a
//! schema, and what each route really answers validates against it.

use roster::ShapeArg;
use roster_tests::http::{TestServer, PASSWORD};
use serde_json::{json, Map, Value};

/// The schema the document gives for `method path` answering `status` as JSON,
/// made self-contained (its `$ref`s resolve against the document's components).
fn response_schema(doc: &Value, method: &str, path: &str, status: &str) -> Value {
    let responses = &doc["paths"][path][method]["responses"];
    let answer = if responses[status].is_object() {
        &responses[status]
    } else {
        &responses["default"]
    };
    let schema = answer["content"]
        .as_object()
        .and_then(|c| c.values().next())
        .map(|media| media["schema"].clone())
        .unwrap_or(Value::Null);
    assert!(
        schema.is_object(),
        "{method} {path} documents a schema for {status}: {answer}"
    );
    let mut root = Map::new();
    root.insert("components".into(), doc["components"].clone());
    root.insert("allOf".into(), json!([schema]));
    Value::Object(root)
}

/// Asserts that `body` is what the document says `method path` answers with `status`.
pub(crate) fn conforms(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let schema = response_schema(doc, method, path, &status.to_string());
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} answered {status} with a body its schema refuses: {errors:?}\n{body:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_and_json_response_body_has_a_schema() {
    let s = TestServer::start().await.expect("server");
    let (_, doc) = s.call("GET", "/openapi.json", None, None).await;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operation") {
            if let Some(body) = op.get("requestBody") {
                assert!(
                    body["content"]["application/json"]["schema"].is_object(),
                    "{method} {path} describes its request body"
                );
            }
            for (status, answer) in op["responses"].as_object().expect("responses") {
                for (media, content) in answer["content"].as_object().into_iter().flatten() {
                    assert!(
                        content["schema"].is_object(),
                        "{method} {path} {status} {media} has a schema"
                    );
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_answers_of_every_route_validate_against_the_document() {
    let s = TestServer::start().await.expect("server");
    let (_, doc) = s.call("GET", "/openapi.json", None, None).await;
    conforms(&doc, "get", "/openapi.json", 200, &doc);
    for probe in ["/healthz", "/readyz"] {
        let (status, body) = s.call("GET", probe, None, None).await;
        conforms(&doc, "get", probe, status, &body);
    }

    let (org, owner, _) = s
        .org_with_owner(ShapeArg::Multi, "owner@contract.io", vec!["Europe".into()])
        .await;
    let orgs = format!("/api/orgs/{org}");

    let (status, session) = s
        .call(
            "POST",
            "/api/sessions",
            None,
            Some(json!({ "email": "owner@contract.io", "password": PASSWORD })),
        )
        .await;
    conforms(&doc, "post", "/api/sessions", status, &session);
    let (status, refused) = s
        .call(
            "POST",
            "/api/sessions",
            None,
            Some(json!({ "email": "owner@contract.io", "password": "not the password" })),
        )
        .await;
    assert_eq!(status, 401);
    conforms(&doc, "post", "/api/sessions", status, &refused);

    let (status, added) = s
        .call(
            "POST",
            &format!("{orgs}/accounts"),
            Some(&owner),
            Some(json!({ "name": "Asia" })),
        )
        .await;
    conforms(&doc, "post", "/api/orgs/{org}/accounts", status, &added);
    let (status, accounts) = s
        .call(
            "GET",
            &format!("{orgs}/accounts?after={}", added["position"]),
            Some(&owner),
            None,
        )
        .await;
    conforms(&doc, "get", "/api/orgs/{org}/accounts", status, &accounts);
    let europe = accounts["accounts"][1]["account_id"].clone();
    assert_eq!(accounts["accounts"][1]["name"], "Europe");

    let (status, invited) = s
        .call(
            "POST",
            &format!("{orgs}/invitations"),
            Some(&owner),
            Some(json!({
                "email": "carol@contract.io", "full_name": "Carol",
                "org_role": "contributor", "accounts": [{ "account_id": europe, "role": "standard" }],
            })),
        )
        .await;
    conforms(
        &doc,
        "post",
        "/api/orgs/{org}/invitations",
        status,
        &invited,
    );
    let invitation = invited["invitation_id"].as_str().expect("id").to_owned();
    let (status, again) = s
        .call(
            "POST",
            &format!("{orgs}/invitations"),
            Some(&owner),
            Some(
                json!({ "email": "carol@contract.io", "full_name": "Carol", "org_role": "owner" }),
            ),
        )
        .await;
    assert_eq!(status, 409, "{again}");
    conforms(&doc, "post", "/api/orgs/{org}/invitations", status, &again);

    s.clock.advance(chrono::Duration::seconds(61));
    let (status, resent) = s
        .call(
            "POST",
            &format!("{orgs}/invitations/{invitation}/resend"),
            Some(&owner),
            None,
        )
        .await;
    conforms(
        &doc,
        "post",
        "/api/orgs/{org}/invitations/{id}/resend",
        status,
        &resent,
    );
    let after = resent["position"].as_u64().expect("position");
    let (status, pending) = s
        .call(
            "GET",
            &format!("{orgs}/invitations?after={after}"),
            Some(&owner),
            None,
        )
        .await;
    conforms(&doc, "get", "/api/orgs/{org}/invitations", status, &pending);

    let link = s
        .token_of(org, invitation.parse().expect("invitation id"))
        .await;
    let (status, preview) = s
        .call("GET", &format!("/api/invitations/{link}"), None, None)
        .await;
    conforms(&doc, "get", "/api/invitations/{token}", status, &preview);
    let (status, joined) = s
        .call(
            "POST",
            "/api/invitations/accept",
            None,
            Some(json!({ "token": link, "full_name": "Carol", "password": PASSWORD })),
        )
        .await;
    conforms(&doc, "post", "/api/invitations/accept", status, &joined);
    let carol = joined["user_id"].as_str().expect("id").to_owned();
    let carol_session = s.sign_in("carol@contract.io", PASSWORD).await;
    let (status, me) = s.call("GET", "/api/me", Some(&carol_session), None).await;
    conforms(&doc, "get", "/api/me", status, &me);

    let after = joined["position"].as_u64().expect("position");
    let (status, members) = s
        .call(
            "GET",
            &format!("{orgs}/members?after={after}"),
            Some(&owner),
            None,
        )
        .await;
    conforms(&doc, "get", "/api/orgs/{org}/members", status, &members);
    // The check has teeth: a body of the wrong shape is refused.
    let mut wrong = members.clone();
    wrong["members"][0]["role"] = json!({ "shape": "round" });
    let schema = response_schema(&doc, "get", "/api/orgs/{org}/members", "200");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    assert!(
        !validator.is_valid(&wrong),
        "a role of no known shape is refused"
    );
    assert!(
        !validator.is_valid(&json!({ "members": [] })),
        "stale is required"
    );
    let (status, then) = s
        .call(
            "GET",
            &format!("{orgs}/members?as_of=2100-01-01T00:00:00Z"),
            Some(&owner),
            None,
        )
        .await;
    conforms(&doc, "get", "/api/orgs/{org}/members", status, &then);
    let (status, changed) = s
        .call(
            "PATCH",
            &format!("{orgs}/members/{carol}"),
            Some(&owner),
            Some(json!({ "org_role": "owner" })),
        )
        .await;
    conforms(
        &doc,
        "patch",
        "/api/orgs/{org}/members/{user}",
        status,
        &changed,
    );
    let (status, removed) = s
        .call(
            "DELETE",
            &format!("{orgs}/members/{carol}"),
            Some(&owner),
            None,
        )
        .await;
    conforms(
        &doc,
        "delete",
        "/api/orgs/{org}/members/{user}",
        status,
        &removed,
    );

    let (status, second) = s
        .call(
            "POST",
            &format!("{orgs}/invitations"),
            Some(&owner),
            Some(json!({ "email": "dan@contract.io", "full_name": "Dan", "org_role": "owner" })),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    let (status, cancelled) = s
        .call(
            "DELETE",
            &format!(
                "{orgs}/invitations/{}",
                second["invitation_id"].as_str().expect("id")
            ),
            Some(&owner),
            None,
        )
        .await;
    conforms(
        &doc,
        "delete",
        "/api/orgs/{org}/invitations/{id}",
        status,
        &cancelled,
    );

    let after = cancelled["position"].as_u64().expect("position");
    let (status, history) = s
        .call(
            "GET",
            &format!("{orgs}/history?after={after}"),
            Some(&owner),
            None,
        )
        .await;
    conforms(&doc, "get", "/api/orgs/{org}/history", status, &history);
    assert!(history["events"].as_array().is_some_and(|e| e.len() > 8));

    let (status, _) = s
        .call(
            "DELETE",
            "/api/sessions/current",
            Some(&carol_session),
            None,
        )
        .await;
    assert_eq!(status, 204);
}
