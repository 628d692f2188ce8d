//! Single sign-on over HTTP against a real OpenID Connect server on loopback
//! whose answers each test scripts (`roster_tests::oidc::ScriptedProvider`):
//! configuring the connection (the secret never stored in clear), signing in
//! and linking on first use, and one test per refusal: a replayed `state`,
//! another browser, the wrong `nonce`, an expired or future ID token, the wrong
//! audience or issuer, an unknown key (and a rotated one that is accepted), an
//! unverified email, an address at another domain, a `sub` linked to someone
//! else, a provider that is down. Then enforcement, the operator's lift, the
//! password confirmation of a person who belongs to other organizations,
//! invitations and joining without one.

use roster::ShapeArg;
use roster_eventstore::Source;
use roster_tests::http::{TestServer, PASSWORD};
use roster_tests::oidc::{ScriptedProvider, CLIENT_ID, CLIENT_SECRET};
use serde_json::{json, Value};

async fn server() -> TestServer {
    TestServer::start_with(roster_tests::Backend::Postgres, |a| a.sso_allow_http = true)
        .await
        .expect("server")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Connects `provider` for acme.io, with `extra` fields (enforced, join_role).
pub(crate) async fn connect(
    s: &TestServer,
    org: roster_domain::OrgId,
    owner: &str,
    provider: &ScriptedProvider,
    extra: Value,
) -> Value {
    let mut body = json!({
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "domains": ["acme.io"],
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, answer) = s
        .call(
            "PUT",
            &format!("/api/orgs/{org}/sso"),
            Some(owner),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    // The sign-in page finds a person's organizations in the read models.
    s.drain().await;
    answer
}

/// A server, an organization of Olive's (acme.io) and a provider connected to
/// it, whose tokens say Olive.
async fn connected_to_a_provider() -> (TestServer, roster_domain::OrgId, String, ScriptedProvider) {
    let s = server().await;
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let provider = ScriptedProvider::start("olive@acme.io")
        .await
        .expect("provider");
    connect(&s, org, &olive, &provider, json!({})).await;
    (s, org, olive, provider)
}

/// A sign-in begun: the provider's URL and the browser's binding cookie.
pub(crate) struct Begun {
    url: String,
    pub(crate) cookie: String,
}

pub(crate) async fn begin(s: &TestServer, body: Value) -> Begun {
    let answer = client()
        .post(format!("{}/api/sso/start", s.base))
        .json(&body)
        .send()
        .await
        .expect("start");
    if answer.status() != 200 {
        panic!(
            "{}: {}",
            answer.status(),
            answer.text().await.unwrap_or_default()
        );
    }
    let cookie = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("roster_sso="))
        .and_then(|v| v.split(';').next())
        .expect("the binding cookie")
        .to_owned();
    assert!(cookie.len() > "roster_sso=".len() + 32, "{cookie}");
    let body: Value = answer.json().await.expect("json");
    Begun {
        url: body["url"].as_str().expect("url").to_owned(),
        cookie,
    }
}

/// The provider's answer: the callback's query string.
pub(crate) async fn at_provider(begun: &Begun) -> String {
    let answer = client().get(&begun.url).send().await.expect("authorize");
    assert!(answer.status().is_redirection(), "{}", answer.status());
    let location = answer.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        location.starts_with("https://portal.example/sso/callback?"),
        "{location}"
    );
    location
        .split_once('?')
        .map(|(_, q)| q.to_owned())
        .expect("query")
}

/// What the callback did: where it moves the browser, and the session cookie if any.
pub(crate) struct Landed {
    to: String,
    pub(crate) session: Option<String>,
    link: Option<String>,
}

pub(crate) async fn callback(s: &TestServer, query: &str, cookie: Option<&str>) -> Landed {
    let mut request = client().get(format!("{}/sso/callback?{query}", s.base));
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    let answer = request.send().await.expect("callback");
    assert_eq!(answer.status(), 200, "a page, never a server error");
    let cookie_named = |name: &str| {
        answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .filter_map(|v| v.split_once('='))
            .find(|(k, v)| *k == name && !v.is_empty())
            .map(|(_, v)| v.to_owned())
    };
    let session = cookie_named("roster_session");
    let link = cookie_named("roster_sso_link");
    let page = answer.text().await.expect("page");
    let at = page.find("url=").expect("a refresh") + 4;
    let to = page[at..]
        .split('"')
        .next()
        .expect("url")
        .replace("&amp;", "&");
    Landed { to, session, link }
}

/// A whole sign-in through the provider, starting from `email`.
async fn sign_in(s: &TestServer, email: &str) -> Landed {
    let begun = begin(s, json!({ "email": email })).await;
    let query = at_provider(&begun).await;
    callback(s, &query, Some(&begun.cookie)).await
}

/// The refusal a landing names (`sso_error`, and `check` for token checks).
fn refusal(landed: &Landed) -> String {
    assert!(landed.session.is_none(), "no session on a refusal");
    landed.to.trim_start_matches("/sign-in?").to_owned()
}

async fn events_of(s: &TestServer, org: roster_domain::OrgId) -> Vec<String> {
    let rows: Vec<(String,)> = match &s.read {
        roster_storage::Db::Pg(p) => sqlx::query_as(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY stream_version",
        )
        .bind(format!("org-{org}"))
        .fetch_all(p)
        .await
        .expect("events"),
        roster_storage::Db::Sqlite(p) => sqlx::query_as(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY stream_version",
        )
        .bind(format!("org-{org}"))
        .fetch_all(p)
        .await
        .expect("events"),
    };
    rows.into_iter().map(|(t,)| t).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_connects_a_provider_and_members_sign_in_with_it_linked_on_first_use() {
    let s = server().await;
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let provider = ScriptedProvider::start("olive@acme.io")
        .await
        .expect("provider");
    let connected = connect(&s, org, &olive, &provider, json!({})).await;
    assert_eq!(connected["connected"], true);
    assert_eq!(connected["domains"], json!(["acme.io"]));
    assert_eq!(
        connected["callback_url"],
        "https://portal.example/sso/callback"
    );
    assert!(
        !connected.to_string().contains(CLIENT_SECRET),
        "{connected}"
    );

    // The secret is in no event and no table in clear.
    let dump: Vec<(String,)> = match &s.read {
        roster_storage::Db::Pg(p) => sqlx::query_as("SELECT payload::text FROM events")
            .fetch_all(p)
            .await
            .expect("payloads"),
        roster_storage::Db::Sqlite(_) => unreachable!("PostgreSQL"),
    };
    assert!(dump.iter().any(|(p,)| p.contains("client_secret")));
    assert!(dump.iter().all(|(p,)| !p.contains(CLIENT_SECRET)));
    // The integrators' feed carries the connection, not even its sealed secret.
    let (status, feed) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/events?after=0"),
            Some(&olive),
            None,
        )
        .await;
    assert_eq!(status, 200, "{feed}");
    assert!(
        feed.to_string().contains("SsoConnectionConfigured"),
        "{feed}"
    );
    assert!(!feed.to_string().contains("client_secret"), "{feed}");

    // The sign-in page learns the method from the address.
    let (_, method) = s
        .call(
            "POST",
            "/api/sso/method",
            None,
            Some(json!({ "email": "Olive@ACME.io" })),
        )
        .await;
    assert_eq!(method["method"], "sso", "{method}");
    assert_eq!(method["org_id"], org.to_string());
    let (_, method) = s
        .call(
            "POST",
            "/api/sso/method",
            None,
            Some(json!({ "email": "nobody@acme.io" })),
        )
        .await;
    assert_eq!(method["method"], "password");

    let landed = sign_in(&s, "olive@acme.io").await;
    assert_eq!(landed.to, "/");
    let session = landed.session.expect("a session");
    let (status, me) = s.call("GET", "/api/me", Some(&session), None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "olive@acme.io");
    assert_eq!(
        events_of(&s, org)
            .await
            .iter()
            .filter(|t| *t == "SsoIdentityLinked")
            .count(),
        1
    );

    // The second sign-in finds the link: nothing new is recorded. (This
    // provider leaves `email_verified` out, as Entra ID does: its own domain's
    // addresses are taken on its word.)
    provider.script(|t| t.email_verified = None);
    let again = sign_in(&s, "olive@acme.io").await;
    assert!(again.session.is_some());
    assert_eq!(
        events_of(&s, org)
            .await
            .iter()
            .filter(|t| *t == "SsoIdentityLinked")
            .count(),
        1
    );

    // Keeping the secret: a change without one keeps the sealed one working.
    let (status, changed) = s
        .call(
            "PUT",
            &format!("/api/orgs/{org}/sso"),
            Some(&olive),
            Some(json!({ "issuer": provider.issuer, "client_id": CLIENT_ID, "domains": ["acme.io", "acme.co.uk"] })),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert!(sign_in(&s, "olive@acme.io").await.session.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_cannot_work_is_refused_with_the_field_named() {
    let s = server().await;
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let sso = format!("/api/orgs/{org}/sso");
    let (status, refused) = s
        .call("PUT", &sso, Some(&olive), Some(json!({ "issuer": "http://127.0.0.1:9", "client_id": "x", "client_secret": "y", "domains": ["acme.io"] })))
        .await;
    assert_eq!(
        (status, TestServer::rule(&refused)),
        (422, "validation"),
        "{refused}"
    );
    assert_eq!(refused["errors"][0]["field"], "issuer", "{refused}");
    let (status, refused) = s
        .call("PUT", &sso, Some(&olive), Some(json!({ "issuer": "https://login.acme.io", "client_id": "x", "domains": ["gmail.com"] })))
        .await;
    assert_eq!(status, 422, "{refused}");
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["client_secret", "domains"], "{refused}");
    let provider = ScriptedProvider::start("olive@acme.io")
        .await
        .expect("provider");
    let (status, refused) = s
        .call("PUT", &sso, Some(&olive), Some(json!({ "issuer": provider.issuer, "client_id": "x", "client_secret": "y", "domains": ["acme.io"], "join_role": { "role": "owner" } })))
        .await;
    assert_eq!(
        (status, TestServer::rule(&refused)),
        (422, "sso-join-as-owner"),
        "{refused}"
    );
    // Nothing was recorded.
    let (_, settings) = s.call("GET", &sso, Some(&olive), None).await;
    assert_eq!(settings["connected"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_that_fails_a_check_is_refused_with_its_rule() {
    let (s, _, _, provider) = connected_to_a_provider().await;

    type Change = fn(&mut roster_tests::oidc::Script);
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "the wrong nonce",
            |t| t.nonce = Some("another-nonce".into()),
            "sso_error=sso-token-refused&check=nonce",
        ),
        (
            "an expired token",
            |t| t.expires = chrono::Duration::minutes(-1),
            "sso_error=sso-token-refused&check=expired",
        ),
        (
            "a token from the future",
            |t| t.issued = chrono::Duration::minutes(5),
            "sso_error=sso-token-refused&check=issued-in-future",
        ),
        (
            "the wrong audience",
            |t| t.audience = Some("someone-else".into()),
            "sso_error=sso-token-refused&check=audience",
        ),
        (
            "the wrong issuer",
            |t| t.issuer = Some("https://evil.example".into()),
            "sso_error=sso-token-refused&check=issuer",
        ),
        (
            "a key the provider never published",
            |t| t.signing_key = "c",
            "sso_error=sso-token-refused&check=unknown-key",
        ),
        (
            "an unverified email",
            |t| t.email_verified = Some(false),
            "sso_error=sso-email-unverified",
        ),
        (
            "no email",
            |t| t.email = None,
            "sso_error=sso-email-missing",
        ),
        (
            "an address at another domain",
            |t| t.email = Some("olive@elsewhere.org".into()),
            "sso_error=sso-domain-not-connected",
        ),
        (
            "a person who is not a member",
            |t| {
                t.email = Some("nobody@acme.io".into());
                t.subject = "sub-nobody".into();
            },
            "sso_error=sso-not-a-member",
        ),
    ];
    for (what, change, expected) in cases {
        provider.script(|t| *t = roster_tests::oidc::Script::person("olive@acme.io"));
        provider.script(change);
        let landed = sign_in(&s, "olive@acme.io").await;
        assert_eq!(refusal(&landed), expected, "{what}");
    }

    // A state works once; and only in the browser that started.
    provider.script(|t| *t = roster_tests::oidc::Script::person("olive@acme.io"));
    let begun = begin(&s, json!({ "email": "olive@acme.io" })).await;
    let query = at_provider(&begun).await;
    let elsewhere = callback(&s, &query, Some("roster_sso=someone-elses")).await;
    assert_eq!(refusal(&elsewhere), "sso_error=sso-other-browser");
    let replayed = callback(&s, &query, Some(&begun.cookie)).await;
    assert_eq!(
        refusal(&replayed),
        "sso_error=sso-state-unknown",
        "taken by the first try"
    );
    let begun = begin(&s, json!({ "email": "olive@acme.io" })).await;
    let query = at_provider(&begun).await;
    assert!(callback(&s, &query, Some(&begun.cookie))
        .await
        .session
        .is_some());
    let replayed = callback(&s, &query, Some(&begun.cookie)).await;
    assert_eq!(refusal(&replayed), "sso_error=sso-state-unknown");
    // A made-up state is unknown; the provider saying no to a real one is said so.
    let forged = callback(&s, "error=access_denied&state=made-up", Some(&begun.cookie)).await;
    assert_eq!(refusal(&forged), "sso_error=sso-state-unknown");
    let begun = begin(&s, json!({ "email": "olive@acme.io" })).await;
    let state = begun
        .url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("state="))
        .expect("a state")
        .to_owned();
    let declined = callback(
        &s,
        &format!("error=access_denied&error_description=User%0Acancelled&state={state}"),
        Some(&begun.cookie),
    )
    .await;
    assert_eq!(refusal(&declined), "sso_error=sso-provider-declined");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_fetched_and_accepted() {
    let (s, _, _, provider) = connected_to_a_provider().await;
    assert!(
        sign_in(&s, "olive@acme.io").await.session.is_some(),
        "key a, cached"
    );
    provider.publish(&["b"]);
    provider.script(|t| t.signing_key = "b");
    // Past the refetch bound (10 s) since the connection fetched the keys.
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    assert!(
        sign_in(&s, "olive@acme.io").await.session.is_some(),
        "key b after the rotation"
    );
    provider.script(|t| t.signing_key = "a");
    let old = sign_in(&s, "olive@acme.io").await;
    assert_eq!(
        refusal(&old),
        "sso_error=sso-token-refused&check=unknown-key",
        "the retired key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_linked_to_one_person_does_not_sign_in_another() {
    let s = server().await;
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    s.member(org, &olive, "ann@acme.io", json!({ "role": "standard" }))
        .await;
    let provider = ScriptedProvider::start("ann@acme.io")
        .await
        .expect("provider");
    connect(&s, org, &olive, &provider, json!({})).await;
    assert!(sign_in(&s, "ann@acme.io").await.session.is_some());
    // The same `sub` now says it is Olive.
    provider.script(|t| t.email = Some("olive@acme.io".into()));
    let landed = sign_in(&s, "olive@acme.io").await;
    assert_eq!(refusal(&landed), "sso_error=sso-identity-linked-elsewhere");
    // And Ann under another `sub`.
    provider.script(|t| {
        t.email = Some("ann@acme.io".into());
        t.subject = "sub-impostor".into();
    });
    let landed = sign_in(&s, "ann@acme.io").await;
    assert_eq!(refusal(&landed), "sso_error=sso-person-linked-elsewhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_is_down_gives_a_clear_page_and_no_server_error() {
    let s = server().await;
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let mut provider = ScriptedProvider::start("olive@acme.io")
        .await
        .expect("provider");
    connect(&s, org, &olive, &provider, json!({})).await;
    let begun = begin(&s, json!({ "email": "olive@acme.io" })).await;
    let query = at_provider(&begun).await;
    provider.stop();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let landed = callback(&s, &query, Some(&begun.cookie)).await;
    assert_eq!(refusal(&landed), "sso_error=sso-provider-unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforcement_refuses_passwords_for_members_at_the_domain_until_the_operator_lifts_it() {
    let s = server().await;
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    s.member(
        org,
        &olive,
        "bob@partner.org",
        json!({ "role": "standard" }),
    )
    .await;
    let provider = ScriptedProvider::start("olive@acme.io")
        .await
        .expect("provider");
    let connected = connect(&s, org, &olive, &provider, json!({ "enforced": true })).await;
    assert_eq!(connected["enforced"], true);

    let password = json!({ "email": "olive@acme.io", "password": PASSWORD });
    let (status, refused) = s
        .call("POST", "/api/sessions", None, Some(password.clone()))
        .await;
    assert_eq!(
        (status, TestServer::rule(&refused)),
        (403, "sso-required"),
        "{refused}"
    );
    assert_eq!(refused["organization"], "Org of olive@acme.io");
    // A wrong password still says only that.
    let (status, _) = s
        .call(
            "POST",
            "/api/sessions",
            None,
            Some(json!({ "email": "olive@acme.io", "password": "wrong wrong wrong" })),
        )
        .await;
    assert_eq!(status, 401);
    let (status, refused) = s
        .call(
            "POST",
            "/api/password-resets",
            None,
            Some(json!({ "email": "olive@acme.io" })),
        )
        .await;
    assert_eq!(
        (status, TestServer::rule(&refused)),
        (403, "sso-required"),
        "{refused}"
    );
    // People at other domains keep their passwords.
    let (status, _) = s
        .call(
            "POST",
            "/api/sessions",
            None,
            Some(json!({ "email": "bob@partner.org", "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, 201);
    // Single sign-on works.
    assert!(sign_in(&s, "olive@acme.io").await.session.is_some());

    // The operator lifts it (the provider is down, say).
    let mut cli = s.another_instance();
    cli.source = Source::Cli;
    let mut out = Vec::new();
    roster::operator::lift_sso(&cli, &org.to_string(), &mut out)
        .await
        .expect("lift");
    assert!(String::from_utf8_lossy(&out).contains("no longer required"));
    let (status, _) = s.call("POST", "/api/sessions", None, Some(password)).await;
    assert_eq!(status, 201);
    let (_, settings) = s
        .call("GET", &format!("/api/orgs/{org}/sso"), Some(&olive), None)
        .await;
    assert_eq!(
        (settings["connected"].clone(), settings["enforced"].clone()),
        (json!(true), json!(false))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_belongs_to_other_organizations_confirms_the_first_link_with_their_password() {
    let s = server().await;
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let (other, otto, _) = s
        .org_with_owner(ShapeArg::Single, "otto@other.org", vec![])
        .await;
    s.member(org, &olive, "ann@acme.io", json!({ "role": "standard" }))
        .await;
    let invitation = s
        .invite(
            other,
            &otto,
            json!({ "email": "ann@acme.io", "full_name": "Ann", "role": "admin" }),
        )
        .await;
    let ann = s.sign_in("ann@acme.io", PASSWORD).await;
    let link = s.token_of(other, invitation).await;
    let (status, joined) = s
        .call(
            "POST",
            "/api/invitations/accept",
            Some(&ann),
            Some(json!({ "token": link })),
        )
        .await;
    assert_eq!(status, 201, "{joined}");
    // Suspended there: a restore would bring that access back, so it counts.
    let (_, otto_me) = s.call("GET", "/api/me", Some(&otto), None).await;
    let (_, ann_me) = s.call("GET", "/api/me", Some(&ann), None).await;
    let id = |me: &Value| -> roster_domain::UserId {
        me["user_id"].as_str().expect("id").parse().expect("uuid")
    };
    let instance = s.another_instance();
    let owner = roster_commands::authorize::owner_of(&instance, id(&otto_me), other)
        .await
        .expect("owner");
    roster_commands::use_cases::directory::set_active(&instance, &owner, id(&ann_me), false)
        .await
        .expect("suspended");

    let provider = ScriptedProvider::start("ann@acme.io")
        .await
        .expect("provider");
    connect(&s, org, &olive, &provider, json!({})).await;
    let landed = sign_in(&s, "ann@acme.io").await;
    assert!(
        landed.session.is_none(),
        "no session on the provider's word alone"
    );
    assert!(
        landed
            .to
            .starts_with("/sign-in?sso_confirm=ann%40acme.io&organization="),
        "{}",
        landed.to
    );
    let link = landed.link.expect("the confirmation cookie");
    let confirm = |password: &str| {
        client()
            .post(format!("{}/api/sso/confirm", s.base))
            .header("cookie", format!("roster_sso_link={link}"))
            .json(&json!({ "password": password }))
            .send()
    };
    let wrong = confirm("not the password at all").await.expect("confirm");
    assert_eq!(wrong.status(), 401);
    let right = confirm(PASSWORD).await.expect("confirm");
    assert_eq!(right.status(), 201);
    let session: Value = right.json().await.expect("json");
    let (status, _) = s
        .call("GET", "/api/me", session["token"].as_str(), None)
        .await;
    assert_eq!(status, 200);
    // Used: it does not confirm twice.
    assert_eq!(confirm(PASSWORD).await.expect("confirm").status(), 410);
    // Linked now: the next sign-in needs no password.
    assert!(sign_in(&s, "ann@acme.io").await.session.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitee_accepts_by_signing_in_and_only_as_the_person_invited() {
    let s = server().await;
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let provider = ScriptedProvider::start("bob@acme.io")
        .await
        .expect("provider");
    connect(&s, org, &olive, &provider, json!({})).await;
    let carol = s
        .invite(
            org,
            &olive,
            json!({ "email": "carol@acme.io", "full_name": "Carol", "role": "admin" }),
        )
        .await;
    let carol_link = s.token_of(org, carol).await;
    // Someone else signs in at the provider with Carol's link.
    let begun = begin(&s, json!({ "invitation_token": carol_link })).await;
    let landed = callback(&s, &at_provider(&begun).await, Some(&begun.cookie)).await;
    assert_eq!(refusal(&landed), "sso_error=wrong-identity");
    // Carol herself.
    provider.script(|t| {
        t.email = Some("carol@acme.io".into());
        t.subject = "sub-carol".into();
        t.name = Some("Carol King".into());
    });
    let begun = begin(&s, json!({ "invitation_token": carol_link })).await;
    let landed = callback(&s, &at_provider(&begun).await, Some(&begun.cookie)).await;
    let session = landed.session.expect("signed in");
    s.drain().await;
    let (_, me) = s.call("GET", "/api/me", Some(&session), None).await;
    assert_eq!(me["organizations"][0]["role"], "admin", "{me}");
    let types = events_of(&s, org).await;
    assert!(
        types.ends_with(&[
            "InvitationAccepted".to_owned(),
            "SsoIdentityLinked".to_owned()
        ]),
        "{types:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_of_the_domain_join_without_an_invitation_only_when_the_owners_allow_it() {
    let s = server().await;
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let provider = ScriptedProvider::start("dave@acme.io")
        .await
        .expect("provider");
    connect(&s, org, &olive, &provider, json!({})).await;
    let begun = begin(&s, json!({ "org": org })).await;
    let landed = callback(&s, &at_provider(&begun).await, Some(&begun.cookie)).await;
    assert_eq!(refusal(&landed), "sso_error=sso-not-a-member");

    connect(
        &s,
        org,
        &olive,
        &provider,
        json!({ "join_role": { "role": "standard" } }),
    )
    .await;
    let (_, method) = s
        .call(
            "POST",
            "/api/sso/method",
            None,
            Some(json!({ "email": "dave@acme.io", "org": org })),
        )
        .await;
    assert_eq!(method["method"], "sso", "{method}");
    let begun = begin(&s, json!({ "org": org })).await;
    let landed = callback(&s, &at_provider(&begun).await, Some(&begun.cookie)).await;
    let session = landed.session.expect("joined");
    s.drain().await;
    let (_, me) = s.call("GET", "/api/me", Some(&session), None).await;
    assert_eq!(me["organizations"][0]["role"], "standard", "{me}");
    assert_eq!(
        events_of(&s, org).await.last().map(String::as_str),
        Some("MemberJoinedBySso")
    );
    let (_, members) = s
        .call(
            "GET",
            &format!("/api/orgs/{org}/members"),
            Some(&olive),
            None,
        )
        .await;
    assert!(members.to_string().contains("dave@acme.io"), "{members}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_started_on_one_instance_finishes_on_another_on_the_embedded_default() {
    let mut s = TestServer::start_with(roster_tests::Backend::Sqlite, |a| a.sso_allow_http = true)
        .await
        .expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let provider = ScriptedProvider::start("olive@acme.io")
        .await
        .expect("provider");
    connect(&s, org, &olive, &provider, json!({})).await;
    let begun = begin(&s, json!({ "email": "olive@acme.io" })).await;
    let query = at_provider(&begun).await;
    // The browser comes back to a new instance: its state is in the database.
    s.restart().await.expect("another instance");
    let landed = callback(&s, &query, Some(&begun.cookie)).await;
    assert_eq!(landed.to, "/");
    let (status, _) = s
        .call("GET", "/api/me", landed.session.as_deref(), None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_issuers_are_refused_unless_the_operator_allows_them() {
    let s = TestServer::start().await.expect("server");
    let (org, olive, _) = s
        .org_with_owner(ShapeArg::Single, "olive@acme.io", vec![])
        .await;
    let provider = ScriptedProvider::start("olive@acme.io")
        .await
        .expect("provider");
    let (status, refused) = s
        .call(
            "PUT",
            &format!("/api/orgs/{org}/sso"),
            Some(&olive),
            Some(json!({ "issuer": provider.issuer, "client_id": "x", "client_secret": "y", "domains": ["acme.io"] })),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["errors"][0]["field"], "issuer");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("https"),
        "{refused}"
    );
}
