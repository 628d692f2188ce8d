//! How the web page is served: the shell on every page path with a strict CSP,
//! assets with ETags, and nothing a page path could leak.

use roster_tests::http::TestServer;

async fn get(server: &TestServer, path: &str, etag: Option<&str>) -> reqwest::Response {
    let mut req = server.http.get(format!("{}{path}", server.base));
    if let Some(tag) = etag {
        req = req.header("if-none-match", tag);
    }
    req.send().await.expect("request")
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_path_serves_the_shell_under_a_strict_content_security_policy() {
    let server = TestServer::start().await.expect("server");
    for path in [
        "/",
        "/sign-in",
        "/forgot-password",
        "/account",
        "/orgs/0190d3c0-0000-7000-8000-000000000000/users",
        "/orgs/0190d3c0-0000-7000-8000-000000000000/activity",
        "/invitations/abc123",
        "/reset-password/u/t",
    ] {
        let res = get(&server, path, None).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&res, "cache-control"), "no-store", "{path}");
        assert!(
            header(&res, "content-security-policy").contains("script-src 'self'"),
            "{path}"
        );
        assert_eq!(header(&res, "x-frame-options"), "DENY");
        assert_eq!(header(&res, "referrer-policy"), "no-referrer");
        let body = res.text().await.expect("body");
        assert!(body.contains("/assets/js/app.js"), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_revalidated_by_etag_and_unknown_ones_are_404() {
    let server = TestServer::start().await.expect("server");
    let res = get(&server, "/assets/js/app.js", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(header(&res, "cache-control"), "no-cache");
    let etag = header(&res, "etag").to_owned();
    assert!(etag.starts_with('"'), "{etag}");
    let again = get(&server, "/assets/js/app.js", Some(&etag)).await;
    assert_eq!(again.status(), 304);
    let stale = get(&server, "/assets/js/app.js", Some("\"other\"")).await;
    assert_eq!(stale.status(), 200);
    assert_eq!(get(&server, "/assets/nope.js", None).await.status(), 404);
    assert_eq!(
        get(&server, "/assets/../Cargo.toml", None).await.status(),
        404
    );
    // The API keeps its own answers: unknown API paths are problem documents.
    let (status, body) = server.call("GET", "/api/nope", None, None).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_at_an_unknown_address_gets_the_page_and_a_trailing_slash_is_dropped() {
    let server = TestServer::start().await.expect("server");
    let navigate = |path: &str| {
        server
            .http
            .get(format!("{}{path}", server.base))
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .send()
    };
    // An unknown address: the page (which says "Page not found"), as a 404.
    let res = navigate("/no/such/page").await.expect("request");
    assert_eq!(res.status(), 404);
    assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
    assert!(header(&res, "content-security-policy").contains("script-src 'self'"));
    assert!(res
        .text()
        .await
        .expect("body")
        .contains("/assets/js/app.js"));

    // A page address with a trailing slash goes to the one without, query kept.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = no_redirects
        .get(format!(
            "{}/orgs/0190d3c0-0000-7000-8000-000000000000/users/?q=a",
            server.base
        ))
        .header("accept", "text/html")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 308);
    assert_eq!(
        header(&res, "location"),
        "/orgs/0190d3c0-0000-7000-8000-000000000000/users?q=a"
    );
    // Never to another host.
    let res = no_redirects
        .get(format!("{}//evil.example/", server.base))
        .header("accept", "text/html")
        .send()
        .await
        .expect("request");
    assert_ne!(res.status(), 308, "{:?}", res.headers().get("location"));

    // The API keeps answering problems, whoever asks.
    let res = navigate("/api/no-such-thing").await.expect("request");
    assert_eq!(res.status(), 404);
    assert_eq!(header(&res, "content-type"), "application/problem+json");
    let res = server
        .http
        .get(format!("{}/no/such/page", server.base))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
    assert_eq!(header(&res, "content-type"), "application/problem+json");
}
