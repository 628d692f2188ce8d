//! OpenID Connect providers for the single sign-on tests, both real servers on
//! loopback:
//!
//! * [`NodeProvider`]: the `oidc-provider` package from the npm registry
//!   (`scripts/oidc-provider`), with its own login page: what a company's
//!   provider is, for the browser tests.
//! * [`ScriptedProvider`]: a small provider written here whose ID tokens a test
//!   scripts (expired, for another audience, signed by an unknown key, …): what
//!   no well-behaved provider would send, to prove Roster refuses each. It
//!   speaks the protocol for real: discovery, keys, the authorization redirect,
//!   the code exchange with client authentication and PKCE.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Duration, Utc};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, EmptyAdditionalClaims, EndUserEmail, EndUserName, IssuerUrl, JsonWebKeyId,
    LocalizedClaim, Nonce, PkceCodeChallenge, PkceCodeVerifier, PrivateSigningKey, StandardClaims,
    SubjectIdentifier,
};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The client Roster is registered as at a [`ScriptedProvider`].
pub const CLIENT_ID: &str = "roster-test-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "roster-test-client-secret";

fn key(name: &str) -> anyhow::Result<CoreRsaPrivateSigningKey> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/oidc")
        .join(format!("key-{name}.pem"));
    let pem = std::fs::read_to_string(&path)?;
    CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(format!("key-{name}"))))
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// What the next ID token says and how it is signed; a test changes it.
#[derive(Debug, Clone)]
pub struct Script {
    /// `sub`.
    pub subject: String,
    /// `email` (none: left out).
    pub email: Option<String>,
    /// `email_verified` (none: left out, as Entra ID does).
    pub email_verified: Option<bool>,
    /// `name`.
    pub name: Option<String>,
    /// `aud` (none: the client's id).
    pub audience: Option<String>,
    /// `iss` (none: the provider's).
    pub issuer: Option<String>,
    /// `nonce` (none: the one the authorization request carried).
    pub nonce: Option<String>,
    /// `iat` relative to now.
    pub issued: Duration,
    /// `exp` relative to now.
    pub expires: Duration,
    /// The key that signs: `a`, `b` or `c` (see `tests/fixtures/oidc`).
    pub signing_key: &'static str,
}

impl Script {
    /// A good token for `email`, whose `sub` is `sub-<email>`.
    pub fn person(email: &str) -> Self {
        Self {
            subject: format!("sub-{email}"),
            email: Some(email.to_owned()),
            email_verified: Some(true),
            name: Some("Test Person".into()),
            audience: None,
            issuer: None,
            nonce: None,
            issued: Duration::zero(),
            expires: Duration::minutes(5),
            signing_key: "a",
        }
    }
}

struct Grant {
    nonce: Option<String>,
    challenge: Option<String>,
}

struct Shared {
    issuer: String,
    script: Script,
    /// The keys the provider publishes (by name).
    published: Vec<&'static str>,
    grants: HashMap<String, Grant>,
    next: u64,
}

/// A provider whose tokens a test scripts; stopped when dropped.
pub struct ScriptedProvider {
    /// Its issuer, `http://127.0.0.1:<port>`.
    pub issuer: String,
    shared: Arc<Mutex<Shared>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for ScriptedProvider {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl ScriptedProvider {
    /// Starts it, publishing key `a`, with tokens for `email`.
    pub async fn start(email: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Mutex::new(Shared {
            issuer: issuer.clone(),
            script: Script::person(email),
            published: vec!["a"],
            grants: HashMap::new(),
            next: 0,
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            issuer,
            shared,
            stop: Some(stop),
        })
    }

    /// Changes what the next token says.
    pub fn script(&self, change: impl FnOnce(&mut Script)) {
        if let Ok(mut shared) = self.shared.lock() {
            change(&mut shared.script);
        }
    }

    /// Publishes these keys from now on (a rotation).
    pub fn publish(&self, keys: &[&'static str]) {
        if let Ok(mut shared) = self.shared.lock() {
            shared.published = keys.to_vec();
        }
    }

    /// Stops answering (the provider is down).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn discovery(State(shared): State<Arc<Mutex<Shared>>>) -> Json<Value> {
    let issuer = shared.lock().map(|s| s.issuer.clone()).unwrap_or_default();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(shared): State<Arc<Mutex<Shared>>>) -> Response {
    let names = shared
        .lock()
        .map(|s| s.published.clone())
        .unwrap_or_default();
    let mut keys = Vec::new();
    for name in names {
        match key(name) {
            Ok(k) => {
                keys.push(serde_json::to_value(k.as_verification_key()).unwrap_or(Value::Null))
            }
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        }
    }
    Json(json!({ "keys": keys })).into_response()
}

/// The person is "signed in" at once: the browser goes straight back with a code.
async fn authorize(
    State(shared): State<Arc<Mutex<Shared>>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (Some(redirect), Some(state)) = (params.get("redirect_uri"), params.get("state")) else {
        return (
            StatusCode::BAD_REQUEST,
            "redirect_uri and state are required",
        )
            .into_response();
    };
    let code = match shared.lock() {
        Ok(mut s) => {
            s.next += 1;
            let code = format!("code-{}", s.next);
            s.grants.insert(
                code.clone(),
                Grant {
                    nonce: params.get("nonce").cloned(),
                    challenge: params.get("code_challenge").cloned(),
                },
            );
            code
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    Redirect::to(&format!("{redirect}?code={code}&state={state}")).into_response()
}

async fn token(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    use base64::Engine as _;
    let refused =
        |error: &str| (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response();
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Basic {expected}"));
    if !authorized {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    let (grant, script, issuer) = {
        let Ok(mut s) = shared.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let Some(grant) = form.get("code").and_then(|c| s.grants.remove(c)) else {
            return refused("invalid_grant");
        };
        (grant, s.script.clone(), s.issuer.clone())
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier));
    if grant.challenge.as_deref() != Some(challenge.as_str()) {
        return refused("invalid_grant");
    }
    let now = Utc::now();
    let mut standard = StandardClaims::new(SubjectIdentifier::new(script.subject.clone()))
        .set_email(script.email.clone().map(EndUserEmail::new))
        .set_email_verified(script.email_verified);
    if let Some(name) = &script.name {
        let mut names = LocalizedClaim::new();
        names.insert(None, EndUserName::new(name.clone()));
        standard = standard.set_name(Some(names));
    }
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(script.issuer.clone().unwrap_or(issuer))
            .unwrap_or_else(|_| unreachable!("a URL")),
        vec![Audience::new(
            script
                .audience
                .clone()
                .unwrap_or_else(|| CLIENT_ID.to_owned()),
        )],
        now + script.expires,
        now + script.issued,
        standard,
        EmptyAdditionalClaims {},
    )
    .set_nonce(script.nonce.clone().or(grant.nonce).map(Nonce::new));
    let signed = key(script.signing_key).and_then(|k| {
        CoreIdToken::new(
            claims,
            &k,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            None,
            None,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
    });
    match signed {
        Ok(id_token) => Json(json!({
            "access_token": "at-scripted",
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token.to_string(),
        }))
        .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The `oidc-provider` package on loopback (see `scripts/oidc-provider`), with
/// a client registered for one Roster; stopped when dropped.
pub struct NodeProvider {
    /// Its issuer.
    pub issuer: String,
    /// The client Roster is at it.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    child: tokio::process::Child,
}

impl NodeProvider {
    /// Starts the provider and registers a client whose redirect URI is `callback`.
    /// `scripts/ensure-oidc-provider` (run by `scripts/test`) installs it.
    pub async fn start(callback: &str) -> anyhow::Result<Self> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/oidc-provider");
        anyhow::ensure!(
            dir.join("node_modules/oidc-provider").exists(),
            "the OpenID Connect provider is not installed: run scripts/ensure-oidc-provider"
        );
        let mut child = tokio::process::Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("the provider's output"))?;
        let mut lines = BufReader::new(stdout).lines();
        let issuer = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(issuer) = line.strip_prefix("listening ") {
                    return Ok::<_, anyhow::Error>(issuer.trim().to_owned());
                }
            }
            anyhow::bail!("the provider stopped before listening")
        })
        .await??;
        // Keep reading what it prints: a closed pipe would stop it at its next line.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let registered: Value = reqwest::Client::new()
            .post(format!("{issuer}/reg"))
            .json(&json!({
                "redirect_uris": [callback],
                "response_types": ["code"],
                "grant_types": ["authorization_code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let text = |k: &str| {
            registered[k]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("registration without {k}: {registered}"))
        };
        Ok(Self {
            client_id: text("client_id")?,
            client_secret: text("client_secret")?,
            issuer,
            child,
        })
    }
}

impl Drop for NodeProvider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A loopback address no one listens on right now, for a server whose public
/// URL must be known before it starts (a provider's registered redirect URI).
pub fn free_local_addr() -> anyhow::Result<std::net::SocketAddr> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(probe.local_addr()?)
}
