//! Bulk invitations over HTTP: every row answered on its own, the invitations
//! of a request recorded in one append, 500 rows at once, and a repeat with the
//! same `Idempotency-Key` answered from the first.

use roster::ShapeArg;
use roster_storage::db::Db;
use roster_tests::http::TestServer;
use serde_json::{json, Value};

/// How many transactions wrote the `UserInvited` events after `after`.
async fn invitation_commits(s: &TestServer, after: u64) -> i64 {
    let Db::Pg(pool) = &s.read else {
        panic!("the test server runs on PostgreSQL")
    };
    let (commits,): (i64,) = sqlx::query_as(
        "SELECT count(DISTINCT xmin::text) FROM events \
         WHERE event_type = 'UserInvited' AND global_position > $1",
    )
    .bind(i64::try_from(after).expect("position"))
    .fetch_one(pool)
    .await
    .expect("count");
    commits
}

fn outcomes(answer: &Value) -> Vec<&str> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["outcome"].as_str().expect("outcome"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_is_answered_on_its_own_and_the_invitations_share_one_append() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let (zed, _, _) = s
        .member(org, &olive, "zed@acme.io", json!({ "role": "standard" }))
        .await;
    let ann = s
        .invite(
            org,
            &olive,
            json!({ "email": "ann@acme.io", "full_name": "Ann", "role": "admin" }),
        )
        .await;
    // lim@acme.io has had its hour's invitations from this organization.
    for _ in 0..5 {
        let lim = s
            .invite(
                org,
                &olive,
                json!({ "email": "lim@acme.io", "full_name": "Lim", "role": "standard" }),
            )
            .await;
        let (status, _) = s
            .call(
                "DELETE",
                &format!("/api/orgs/{org}/invitations/{lim}"),
                Some(&olive),
                None,
            )
            .await;
        assert_eq!(status, 200);
    }
    let (_, head) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/events?limit=200"),
            Some(&olive),
            None,
        )
        .await;
    let before = head["events"]
        .as_array()
        .and_then(|e| e.last())
        .and_then(|e| e["position"].as_u64())
        .expect("a position");

    let rows = json!([
        { "email": "new@acme.io", "full_name": "New One", "role": "standard" },
        { "email": "ANN@acme.io", "full_name": "Ann", "role": "standard" },
        { "email": "zed@acme.io", "full_name": "Zed", "role": "admin" },
        { "email": "not-an-address", "full_name": "", "role": "admin" },
        { "email": "odd@acme.io", "full_name": "Odd", "role": "admin", "colour": "blue" },
        { "email": "new@acme.io", "full_name": "New Again", "role": "admin" },
        { "email": "lim@acme.io", "full_name": "Lim", "role": "standard" },
        { "email": "two@acme.io", "full_name": "Two", "org_role": "owner" },
        { "email": "three@acme.io", "full_name": "Three", "role": "owner" },
    ]);
    let (status, answer) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations/bulk"),
            Some(&olive),
            Some(json!({ "invitations": rows })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let (_, doc) = s.call("GET", "/openapi.json", None, None).await;
    crate::api_contract::conforms(
        &doc,
        "post",
        "/api/orgs/{org}/invitations/bulk",
        200,
        &answer,
    );
    assert_eq!(
        outcomes(&answer),
        [
            "invited",
            "already-invited",
            "already-member",
            "invalid",
            "invalid",
            "already-invited",
            "over-sending-limit",
            "invalid",
            "invited",
        ],
        "{answer}"
    );
    let results = &answer["results"];
    assert_eq!(answer["invited"], 2);
    assert_eq!(results[1]["invitation_id"], ann.to_string());
    assert_eq!(
        results[1]["invitation_role"],
        json!({ "shape": "single", "role": "admin" })
    );
    assert_eq!(results[2]["user_id"], json!(zed));
    let fields: Vec<&str> = results[3]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "full_name"], "{answer}");
    assert_eq!(
        results[5]["invitation_id"], results[0]["invitation_id"],
        "a repeated row is answered by the invitation its first row made"
    );
    assert!(results[6]["retry_after_seconds"].as_u64().expect("wait") > 0);
    assert_eq!(results[7]["errors"][0]["field"], "role", "{answer}");

    // The two invitations were recorded in one append (one transaction).
    let position = answer["position"].as_u64().expect("position");
    assert!(position > before);
    assert_eq!(invitation_commits(&s, before).await, 1);
    let (_, list) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/invitations?after={position}"),
            Some(&olive),
            None,
        )
        .await;
    let mut invited: Vec<&str> = list["invitations"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|i| i["email"].as_str())
        .collect();
    invited.sort_unstable();
    assert_eq!(invited, ["ann@acme.io", "new@acme.io", "three@acme.io"]);
    // Each invited row gets its email.
    s.token_from_email("new@acme.io", 0).await;
    s.token_from_email("three@acme.io", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_rows_go_in_one_request_and_a_repeat_is_answered_from_the_first() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Multi, "olive@acme.io", vec!["Alpha".into()])
        .await;
    let (_, accounts) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/accounts"),
            Some(&olive),
            None,
        )
        .await;
    let alpha = accounts["accounts"][0]["account_id"].clone();
    let rows: Vec<Value> = (0..500)
        .map(|n| {
            json!({
                "email": format!("person.number.{n}@a-rather-long-company-name.example"),
                "full_name": format!("Person Number {n} With A Longer Name"),
                "org_role": "contributor",
                "accounts": [{ "account_id": alpha, "role": "standard" }],
            })
        })
        .collect();
    let body = json!({ "invitations": rows });
    assert!(
        body.to_string().len() > 64 * 1024,
        "more than other requests may send"
    );
    let url = format!("{}/api/orgs/{org}/invitations/bulk", s.base);
    let send = || {
        s.http
            .post(&url)
            .bearer_auth(&olive)
            .header("Idempotency-Key", "bulk-once")
            .json(&body)
            .send()
    };
    let first = send().await.expect("send");
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.expect("json");
    assert_eq!(
        first["invited"], 200,
        "the organization's hourly sending limit holds"
    );
    let over = outcomes(&first)
        .iter()
        .filter(|o| **o == "over-sending-limit")
        .count();
    assert_eq!(over, 300, "the rest are named, not dropped");
    assert_eq!(
        invitation_commits(&s, 0).await,
        2,
        "the owner's and the bulk's"
    );

    let again = send().await.expect("send");
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.expect("json");
    assert_eq!(again, first, "the same answer, nothing done twice");
    assert_eq!(invitation_commits(&s, 0).await, 2);

    let (status, too_many) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations/bulk"),
            Some(&olive),
            Some(json!({ "invitations": vec![json!({}); 501] })),
        )
        .await;
    assert_eq!(
        (status, TestServer::rule(&too_many)),
        (422, "validation"),
        "{too_many}"
    );
    let (status, none) = s
        .call(
            "POST",
            &format!("/api/orgs/{org}/invitations/bulk"),
            Some(&olive),
            Some(json!({ "invitations": [] })),
        )
        .await;
    assert_eq!(status, 422, "{none}");
}
