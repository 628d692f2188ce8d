//! Single sign-on in Chromium against a real OpenID Connect provider on loopback
//! (the `oidc-provider` package from the npm registry, with its own login
//! page): an owner connects it in the page; a member signs in through the
//! provider's login page and lands signed in; an invitee accepts through it;
//! once it is required, the page offers no password and the API refuses one.

use roster::ShapeArg;
use roster_tests::browser::Browser;
use roster_tests::http::{TestServer, PASSWORD};
use roster_tests::oidc::{free_local_addr, NodeProvider};
use serde_json::json;

/// A server whose public URL is its own address (the provider sends browsers
/// back to it), allowing http issuers on loopback, and the provider.
async fn server_and_provider() -> (TestServer, NodeProvider) {
    let addr = free_local_addr().expect("a free port");
    let server = TestServer::start_with(roster_tests::Backend::Postgres, |a| {
        a.listen = addr;
        a.public_url = format!("http://{addr}");
        a.sso_allow_http = true;
    })
    .await
    .expect("server");
    let provider = NodeProvider::start(&format!("http://{addr}/sso/callback"))
        .await
        .expect("the OpenID Connect provider (scripts/ensure-oidc-provider)");
    (server, provider)
}

/// Signs in at the provider's own login page as `email`.
async fn at_the_provider(b: &Browser, email: &str) -> anyhow::Result<()> {
    // The provider fills in the address Roster sent as `login_hint`.
    let login = b.find("input[name=login]").await?;
    login.clear().await?;
    login.send_keys(email).await?;
    b.find("input[name=password]")
        .await?
        .send_keys("the provider's own password")
        .await?;
    b.find("button[type=submit]").await?.click().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_connects_the_provider_in_the_page_and_members_sign_in_through_its_login_page() {
    let (server, provider) = server_and_provider().await;
    let (org, olive, _) = server
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    server
        .member(org, &olive, "ann@acme.io", json!({ "role": "standard" }))
        .await;

    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in("olive@acme.io", PASSWORD).await.expect("olive");
    b.open_user_menu().await.expect("menu");
    b.click("Single sign-on").await.expect("the page");
    b.see("h1", "Single sign-on").await.expect("page");
    b.see(".sso-status", "Not connected").await.expect("status");
    b.fill("Issuer URL", &provider.issuer)
        .await
        .expect("issuer");
    b.fill("Client ID", &provider.client_id).await.expect("id");
    b.fill("Client secret", &provider.client_secret)
        .await
        .expect("secret");
    b.fill("Email domains", "acme.io").await.expect("domains");
    b.click("Connect").await.expect("connect");
    b.see(".sso-status", &format!("Connected to {}", provider.issuer))
        .await
        .expect("connected");
    b.sign_out().await.expect("out");

    // Ann: her address first, then her company's login page, then Roster.
    b.fill("Email", "ann@acme.io").await.expect("email");
    b.click("Continue").await.expect("continue");
    b.see("p.note", "single sign-on").await.expect("offered");
    b.click("Continue with single sign-on")
        .await
        .expect("to the provider");
    at_the_provider(&b, "ann@acme.io")
        .await
        .expect("provider login");
    b.see("h1", "Your organizations").await.expect("signed in");
    b.see(".user-menu-name", "ann@acme.io")
        .await
        .expect("as Ann");
    b.sign_out().await.expect("out");

    // Olive requires it: the page offers no password, and the API refuses one.
    let (status, _) = server
        .call(
            "PUT",
            &format!("/api/orgs/{org}/sso"),
            Some(&olive),
            Some(json!({
                "issuer": provider.issuer, "client_id": provider.client_id,
                "domains": ["acme.io"], "enforced": true,
            })),
        )
        .await;
    assert_eq!(status, 200);
    server.drain().await;
    // Another browser: this one's provider session is Ann's.
    b.close().await.expect("close");
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.goto("/sign-in").await.expect("sign-in");
    b.fill("Email", "olive@acme.io").await.expect("email");
    b.click("Continue").await.expect("continue");
    b.see("p.note", "signs its people in with its own single sign-on")
        .await
        .expect("required");
    assert!(
        !b.shows("input[type=password]").await.expect("shows"),
        "no password is asked"
    );
    let (status, refused) = server
        .call(
            "POST",
            "/api/sessions",
            None,
            Some(json!({ "email": "olive@acme.io", "password": PASSWORD })),
        )
        .await;
    assert_eq!(
        (status, TestServer::rule(&refused)),
        (403, "sso-required"),
        "{refused}"
    );
    b.click("Continue with single sign-on")
        .await
        .expect("to the provider");
    at_the_provider(&b, "olive@acme.io")
        .await
        .expect("provider login");
    b.see("h1", "Your organizations").await.expect("signed in");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitee_accepts_through_the_providers_login_page_without_a_roster_password() {
    let (server, provider) = server_and_provider().await;
    let (org, olive, _) = server
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let (status, _) = server
        .call(
            "PUT",
            &format!("/api/orgs/{org}/sso"),
            Some(&olive),
            Some(json!({
                "issuer": provider.issuer, "client_id": provider.client_id,
                "client_secret": provider.client_secret, "domains": ["acme.io"],
            })),
        )
        .await;
    assert_eq!(status, 200);
    let invitation = server
        .invite(
            org,
            &olive,
            json!({ "email": "bob@acme.io", "full_name": "Bob Builder", "role": "admin" }),
        )
        .await;
    let token = server.token_of(org, invitation).await;

    let b = Browser::open(&server.base, 390).await.expect("browser");
    b.goto(&format!("/invitations/{token}"))
        .await
        .expect("link");
    b.see("h1", "Join").await.expect("the invitation");
    b.click("Accept with single sign-on")
        .await
        .expect("to the provider");
    at_the_provider(&b, "bob@acme.io")
        .await
        .expect("provider login");
    b.see("h1", "Your organizations").await.expect("joined");
    b.see(".org-card", "Admin").await.expect("as admin");
    b.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_joins_by_single_sign_on_appears_on_an_owners_open_page() {
    use crate::api_sso::{at_provider, begin, callback, connect};
    let server = TestServer::start_with(roster_tests::Backend::Postgres, |a| {
        a.sso_allow_http = true;
    })
    .await
    .expect("server");
    let (org, olive, _) = server
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let provider = roster_tests::oidc::ScriptedProvider::start("dora@acme.io")
        .await
        .expect("provider");
    connect(
        &server,
        org,
        &olive,
        &provider,
        json!({ "join_role": { "role": "standard" } }),
    )
    .await;
    let b = Browser::open(&server.base, 1280).await.expect("browser");
    b.sign_in("olive@acme.io", PASSWORD).await.expect("olive");
    crate::web_browser::open_user_management(&b)
        .await
        .expect("page");
    // Dora joins through the sign-in link meanwhile; Olive's page follows.
    let begun = begin(&server, json!({ "org": org })).await;
    let landed = callback(&server, &at_provider(&begun).await, Some(&begun.cookie)).await;
    assert!(landed.session.is_some(), "Dora joined");
    b.see("section[aria-labelledby=members-title]", "dora@acme.io")
        .await
        .expect("shown without a reload");
    b.close().await.expect("close");
}
