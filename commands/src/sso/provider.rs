//! Talking to an organization's OpenID Connect provider, with the `openidconnect`
//! crate doing the protocol: discovery (the document's issuer must be the one
//! configured), the authorization request (code flow, PKCE S256, `state`,
//! `nonce`), the code exchange and the ID token's checks (signature against the
//! provider's keys, `iss`, `aud`, `exp`, `iat`, `nonce`).
//!
//! Every call is bounded: 5 s to connect, 10 s in all, 1 MiB per answer, no
//! redirects followed. Discovery documents (with their keys) are cached per
//! issuer for ten minutes; a token signed by a key the cache does not hold
//! fetches them again once (the provider rotated its keys), at most every 10 s
//! per issuer.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreProviderMetadata, CoreResponseType,
    CoreUserInfoClaims,
};
use openidconnect::{
    http, url, AsyncHttpClient, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, HttpRequest, HttpResponse, IssuerUrl, Nonce, OAuth2TokenResponse as _,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    SubjectIdentifier, TokenResponse as _,
};

/// The most bytes one answer of a provider may hold.
const MAX_ANSWER: usize = 1 << 20;
/// How long a discovery document and its keys are reused.
const FRESH_FOR: Duration = Duration::from_secs(600);
/// How often keys may be fetched again for a token signed by an unknown key.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(10);
/// How far in the future an ID token's `iat` may lie (clock skew).
const SKEW: chrono::Duration = chrono::Duration::seconds(60);
/// How old an ID token may be when it arrives.
const MAX_TOKEN_AGE: chrono::Duration = chrono::Duration::minutes(10);

/// Why the provider could not be used, or its answer was refused. Each has a
/// stable name ([`ProviderError::kind`]) the edge turns into a problem type.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The issuer is not a URL Roster may call.
    #[error("the issuer must be an https URL{}", if *.0 { " (or http, as this server allows)" } else { "" })]
    BadIssuer(bool),
    /// The provider could not be reached or answered with an error.
    #[error("the provider did not answer as expected: {0}")]
    Unavailable(String),
    /// The discovery document does not describe a usable provider.
    #[error("the provider's configuration is unusable: {0}")]
    Misconfigured(String),
    /// The code exchange was refused by the provider (wrong client secret, a
    /// used code, a wrong PKCE verifier).
    #[error("the provider refused the code exchange: {0}")]
    ExchangeRefused(String),
    /// The ID token failed a check.
    #[error("the ID token was refused ({kind}): {detail}")]
    Token {
        /// Which check: `expired`, `issued-in-future`, `audience`, `issuer`,
        /// `nonce`, `unknown-key`, `signature`, `missing`, `malformed`.
        kind: &'static str,
        /// What the check said.
        detail: String,
    },
}

impl ProviderError {
    fn token(kind: &'static str, detail: impl ToString) -> Self {
        Self::Token {
            kind,
            detail: detail.to_string(),
        }
    }
}

/// Calls to providers in flight at once, all organizations together: a slow
/// provider (an organization's owners choose it) holds at most these, and
/// nothing else the server does waits on it.
const CALLS_IN_FLIGHT: usize = 16;
/// How long a call waits for a place before the provider counts as unavailable.
const CALL_WAIT: Duration = Duration::from_secs(2);

/// An HTTP client for providers: bounded in time, size and number in flight;
/// follows no redirect.
#[derive(Clone)]
pub struct Http(reqwest::Client, std::sync::Arc<tokio::sync::Semaphore>);

/// A provider call that failed below the protocol.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpFailure(String);

impl Http {
    /// A client with the bounds above.
    pub fn new() -> Result<Self, HttpFailure> {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Roster single sign-on")
            .build()
            .map(|client| {
                Self(
                    client,
                    std::sync::Arc::new(tokio::sync::Semaphore::new(CALLS_IN_FLIGHT)),
                )
            })
            .map_err(|e| HttpFailure(e.to_string()))
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpFailure> {
        let _place = tokio::time::timeout(CALL_WAIT, self.1.acquire())
            .await
            .map_err(|_| HttpFailure("too many sign-ins are waiting on providers".into()))?
            .map_err(|_| HttpFailure("shutting down".into()))?;
        let (parts, body) = request.into_parts();
        let mut answer = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| HttpFailure(without_url(&e)))?;
        let mut builder = http::Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = answer
            .chunk()
            .await
            .map_err(|e| HttpFailure(without_url(&e)))?
        {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(HttpFailure(format!(
                    "the provider's answer is larger than {MAX_ANSWER} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body).map_err(|e| HttpFailure(e.to_string()))
    }
}

/// reqwest's message, which is the URL and the cause: the cause is enough.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    if let Some(source) = std::error::Error::source(e) {
        text.push_str(": ");
        text.push_str(&source.to_string());
    }
    text
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpFailure;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpFailure>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// The providers Roster talks to: an HTTP client and the discovery cache.
pub struct Providers {
    http: Result<Http, String>,
    allow_http: bool,
    cache: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    metadata: CoreProviderMetadata,
    fetched: Instant,
}

/// A connection's client credentials, opened.
pub struct Client<'a> {
    /// The issuer.
    pub issuer: &'a str,
    /// Roster's client id there.
    pub client_id: &'a str,
    /// Roster's client secret there.
    pub client_secret: String,
    /// Where the provider sends the browser back.
    pub redirect_uri: &'a str,
}

/// An authorization request about to be sent: the URL to send the browser to,
/// and what the callback must find again.
pub struct Authorization {
    /// The provider's URL, with every parameter.
    pub url: String,
    /// The `state` sent (the callback's key).
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier the code exchange proves possession with.
    pub pkce_verifier: String,
}

/// What a verified ID token says of the person.
#[derive(Debug, Clone)]
pub struct Verified {
    /// `sub`.
    pub subject: String,
    /// `email`, if given.
    pub email: Option<String>,
    /// `email_verified`, if the provider says (Microsoft Entra ID, for one,
    /// leaves it out of work accounts' tokens).
    pub email_verified: Option<bool>,
    /// `name`, if given.
    pub name: Option<String>,
}

impl Providers {
    /// Providers reached over https; `allow_http` also lets plain-http issuers
    /// be used (tests and development on loopback). A client that cannot be
    /// built (no TLS backend) leaves every provider unavailable, with its reason.
    pub fn new(allow_http: bool) -> Self {
        Self {
            http: Http::new().map_err(|e| e.0),
            allow_http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Checks `issuer` is a URL Roster may call and fetches its discovery
    /// document and keys (fresh, not from the cache).
    pub async fn check(&self, issuer: &str) -> Result<(), ProviderError> {
        self.fetch(issuer).await.map(drop)
    }

    fn http(&self) -> Result<&Http, ProviderError> {
        self.http
            .as_ref()
            .map_err(|e| ProviderError::Unavailable(format!("no HTTP client: {e}")))
    }

    fn issuer_url(&self, issuer: &str) -> Result<IssuerUrl, ProviderError> {
        let url = url::Url::parse(issuer).map_err(|_| ProviderError::BadIssuer(self.allow_http))?;
        let scheme_ok = url.scheme() == "https" || (self.allow_http && url.scheme() == "http");
        if !scheme_ok
            || url.host().is_none()
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || issuer.len() > 2_000
        {
            return Err(ProviderError::BadIssuer(self.allow_http));
        }
        IssuerUrl::new(issuer.to_owned()).map_err(|_| ProviderError::BadIssuer(self.allow_http))
    }

    async fn fetch(&self, issuer: &str) -> Result<CoreProviderMetadata, ProviderError> {
        let url = self.issuer_url(issuer)?;
        let metadata = CoreProviderMetadata::discover_async(url, self.http()?)
            .await
            .map_err(|e| match e {
                openidconnect::DiscoveryError::Request(r) => ProviderError::Unavailable(r.0),
                openidconnect::DiscoveryError::Response(status, _, _) => {
                    ProviderError::Unavailable(format!("its discovery document answered {status}"))
                }
                other => ProviderError::Misconfigured(other.to_string()),
            })?;
        let codes = metadata
            .response_types_supported()
            .iter()
            .any(|t| t.as_ref() == [CoreResponseType::Code]);
        if !codes {
            return Err(ProviderError::Misconfigured(
                "it does not offer the authorization code flow".into(),
            ));
        }
        if metadata.token_endpoint().is_none() {
            return Err(ProviderError::Misconfigured(
                "it has no token endpoint".into(),
            ));
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                issuer.to_owned(),
                Cached {
                    metadata: metadata.clone(),
                    fetched: Instant::now(),
                },
            );
        }
        Ok(metadata)
    }

    /// The cached document of `issuer`, or a fresh one; `again` forces a fetch
    /// unless the last was less than [`REFETCH_AT_MOST_EVERY`] ago.
    async fn metadata(
        &self,
        issuer: &str,
        again: bool,
    ) -> Result<(CoreProviderMetadata, bool), ProviderError> {
        let cached = self.cache.lock().ok().and_then(|c| {
            c.get(issuer).and_then(|entry| {
                let age = entry.fetched.elapsed();
                let usable = if again {
                    age < REFETCH_AT_MOST_EVERY
                } else {
                    age < FRESH_FOR
                };
                usable.then(|| entry.metadata.clone())
            })
        });
        match cached {
            Some(m) => Ok((m, false)),
            None => Ok((self.fetch(issuer).await?, true)),
        }
    }

    /// Starts a sign-in: the URL to send the browser to.
    pub async fn authorize(
        &self,
        client: &Client<'_>,
        login_hint: Option<&str>,
    ) -> Result<Authorization, ProviderError> {
        let (metadata, _) = self.metadata(client.issuer, false).await?;
        let oidc = self.client(metadata, client)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = oidc
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, state, nonce) = request.url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Finishes a sign-in: exchanges `code` (with the PKCE verifier) and checks
    /// the ID token it brings against the provider's keys, the issuer, this
    /// client, the time `now` and `nonce`.
    pub async fn finish(
        &self,
        client: &Client<'_>,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Verified, ProviderError> {
        let (metadata, _) = self.metadata(client.issuer, false).await?;
        let oidc = self.client(metadata, client)?;
        let answer = oidc
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| ProviderError::Misconfigured(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(self.http()?)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::Request(r) => ProviderError::Unavailable(r.0),
                openidconnect::RequestTokenError::ServerResponse(r) => {
                    ProviderError::ExchangeRefused(r.to_string())
                }
                other => ProviderError::ExchangeRefused(other.to_string()),
            })?;
        let token = answer
            .id_token()
            .ok_or_else(|| ProviderError::token("missing", "the answer holds no ID token"))?
            .clone();
        let mut verified = match verify(&oidc, &token, nonce, now) {
            Err(ProviderError::Token {
                kind: "unknown-key",
                ..
            }) => {
                // The provider may have rotated its keys: fetch them again, once.
                let (metadata, fresh) = self.metadata(client.issuer, true).await?;
                if fresh {
                    verify(&self.client(metadata, client)?, &token, nonce, now)
                } else {
                    verify(&oidc, &token, nonce, now)
                }
            }
            other => other,
        }?;
        if verified.email.is_none() {
            // Providers that keep the ID token small (OpenID Connect Core §5.4)
            // give the address at the userinfo endpoint, for the same `sub`.
            // Without one, the address is missing (and the sign-in refused).
            if let Ok(request) = oidc.user_info(
                answer.access_token().clone(),
                Some(SubjectIdentifier::new(verified.subject.clone())),
            ) {
                let info: CoreUserInfoClaims =
                    request
                        .request_async(self.http()?)
                        .await
                        .map_err(|e| match e {
                            openidconnect::UserInfoError::Request(r) => {
                                ProviderError::Unavailable(r.0)
                            }
                            other => {
                                ProviderError::token("malformed", format!("userinfo: {other}"))
                            }
                        })?;
                verified.email = info.email().map(|e| e.as_str().to_owned());
                verified.email_verified = info.email_verified();
                if verified.name.is_none() {
                    verified.name = info
                        .name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str().to_owned());
                }
            }
        }
        Ok(verified)
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
        client: &Client<'_>,
    ) -> Result<Oidc, ProviderError> {
        let redirect = RedirectUrl::new(client.redirect_uri.to_owned())
            .map_err(|e| ProviderError::Misconfigured(format!("the callback address: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client.client_id.to_owned()),
            Some(ClientSecret::new(client.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }
}

/// A client made from a discovery document: its authorization URL is set, its
/// token and userinfo endpoints may be.
type Oidc = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The ID token's checks, each failure named.
fn verify(
    oidc: &Oidc,
    token: &CoreIdToken,
    nonce: &str,
    now: DateTime<Utc>,
) -> Result<Verified, ProviderError> {
    let verifier = oidc
        .id_token_verifier()
        .set_time_fn(move || now)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > now + SKEW {
                Err(format!("issued in the future, at {iat}"))
            } else if iat < now - MAX_TOKEN_AGE {
                Err(format!("issued too long ago, at {iat}"))
            } else {
                Ok(())
            }
        });
    let claims = token
        .claims(&verifier, &Nonce::new(nonce.to_owned()))
        .map_err(|e| match e {
            ClaimsVerificationError::Expired(m) if m.starts_with("issued in the future") => {
                ProviderError::token("issued-in-future", m)
            }
            ClaimsVerificationError::Expired(m) => ProviderError::token("expired", m),
            ClaimsVerificationError::InvalidAudience(m) => ProviderError::token("audience", m),
            ClaimsVerificationError::InvalidIssuer(m) => ProviderError::token("issuer", m),
            ClaimsVerificationError::InvalidNonce(m) => ProviderError::token("nonce", m),
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            ) => ProviderError::token(
                "unknown-key",
                "no key of the provider's matches the token's",
            ),
            ClaimsVerificationError::SignatureVerification(s) => {
                ProviderError::token("signature", s)
            }
            other => ProviderError::token("malformed", other),
        })?;
    let subject = claims.subject().as_str().to_owned();
    if subject.is_empty() || subject.len() > roster_domain::Subject::MAX_LEN {
        return Err(ProviderError::token(
            "malformed",
            "the subject is empty or longer than 255 characters",
        ));
    }
    Ok(Verified {
        subject,
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: claims.email_verified(),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned()),
    })
}
