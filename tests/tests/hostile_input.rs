//! Garbage a client can send: deeply nested JSON, bytes that are not UTF-8, and
//! headers far too large. Each gets a clean refusal, and the server stays up.

use roster_tests::http::TestServer;
use serde_json::Value;

async fn post_raw(s: &TestServer, body: Vec<u8>) -> (u16, String, String) {
    let res = s
        .http
        .post(format!("{}/api/sessions", s.base))
        .header("content-type", "application/json")
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
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let rule = body["type"]
        .as_str()
        .and_then(|t| t.rsplit('/').next())
        .unwrap_or_default()
        .to_owned();
    (status, ct, rule)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_json_invalid_utf8_and_huge_headers_are_refused_and_the_server_stays_up() {
    let s = TestServer::start().await.expect("server");

    // 30,000 levels of nesting (60 KB, under the body limit): refused, no stack overflow.
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    // (Whether the parser or the shape check says so first, it is a 4xx problem.)
    let refused = |(status, ct, rule): (u16, String, String)| {
        assert_eq!(ct, "application/problem+json");
        assert!(
            matches!(
                (status, rule.as_str()),
                (400, "malformed-json") | (422, "validation")
            ),
            "{status} {rule}"
        );
    };
    refused(post_raw(&s, deep.into_bytes()).await);
    let deep_object = format!("{}1{}", "{\"a\":".repeat(9_000), "}".repeat(9_000));
    refused(post_raw(&s, deep_object.into_bytes()).await);

    // Bytes that are not UTF-8 inside a string.
    let mut invalid = br#"{"email":"a@b.io","password":""#.to_vec();
    invalid.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    invalid.extend_from_slice(br#""}"#);
    refused(post_raw(&s, invalid).await);

    // A 200 KB header: refused by the HTTP layer (431) or the connection is closed.
    let huge = "x".repeat(200 * 1024);
    let answer = s
        .http
        .get(format!("{}/healthz", s.base))
        .header("x-filler", huge)
        .send()
        .await;
    if let Ok(res) = answer {
        assert_eq!(res.status().as_u16(), 431, "oversized headers are refused");
    }

    // Still serving.
    let (status, _) = s.call("GET", "/healthz", None, None).await;
    assert_eq!(status, 200);
    let (status, _) = s.call("GET", "/readyz", None, None).await;
    assert_eq!(status, 200);
}
