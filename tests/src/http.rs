//! A running Roster on a random port, PostgreSQL behind it and a real SMTP sink for
//! its emails, with typed helpers for the calls API tests make again and again.
//! Time is a manual clock the test moves; the email and expiry workers do not run
//! on their own: [`TestServer::drain`] steps them until nothing is left to do.

use std::sync::Arc;
use std::time::Duration;

use roster::app::Workers;
use roster::bootstrap::create_org;
use roster::{App, CreateOrgArgs, Database, ServeArgs, ShapeArg};
use roster_commands::tokens::TokenKey;
use roster_commands::{Application, ManualClock};
use roster_domain::organization::OrgEvent;
use roster_domain::{decode, InvitationId, OrgId, SendId};
use roster_eventstore::{EventStore, Source, StreamId, SystemClock};
use roster_projections::queries;
use roster_storage::Db;
use roster_workers::EmailStep;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::smtp::SmtpSink;

/// The password test people use.
pub const PASSWORD: &str = "correct horse battery staple";

/// The base of links in the server's emails.
pub const PUBLIC_URL: &str = "https://portal.example";

/// A running server; stopped when dropped.
pub struct TestServer {
    /// Where its invitation emails arrive.
    pub sink: SmtpSink,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Its event store.
    pub store: Arc<dyn EventStore>,
    /// Its read models.
    pub read: Db,
    /// Its token secret, to derive links as the email worker does.
    pub key: TokenKey,
    /// The server's clock; tests move it.
    pub clock: ManualClock,
    /// A client.
    pub http: reqwest::Client,
    workers: Workers,
    database: Database,
    args: ServeArgs,
    stop: Option<oneshot::Sender<()>>,
    running: Option<tokio::task::JoinHandle<Result<(), roster::app::AppError>>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestServer {
    /// Starts a server on a fresh PostgreSQL schema, emailing a fresh SMTP sink.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_on(crate::Backend::Postgres).await
    }

    /// Starts a server on a fresh database of `backend`, emailing a fresh SMTP sink.
    pub async fn start_on(backend: crate::Backend) -> anyhow::Result<Self> {
        Self::start_with(backend, |_| {}).await
    }

    /// Like [`TestServer::start_on`], with settings changed by `configure`.
    pub async fn start_with(
        backend: crate::Backend,
        configure: impl FnOnce(&mut ServeArgs),
    ) -> anyhow::Result<Self> {
        let database = match backend {
            crate::Backend::Postgres => Database::Postgres(crate::fresh_pg_pool().await?),
            crate::Backend::Sqlite => Database::Sqlite(crate::fresh_sqlite_pool().await?),
        };
        let key = TokenKey::generate()?;
        let sink = SmtpSink::start().await?;
        let mut args = ServeArgs {
            smtp_url: Some(sink.url().into()),
            public_url: PUBLIC_URL.into(),
            // Every test client connects from 127.0.0.1; tests of the share set it.
            max_connections_per_client: 1_000,
            ..ServeArgs::ephemeral()
        };
        configure(&mut args);
        let clock = ManualClock::new(chrono::Utc::now());
        let (app, workers) = Self::launch(&database, &args, &key, &clock).await?;
        let base = format!("http://{}", app.local_addr()?);
        let store = app.store();
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            sink,
            base,
            store,
            read: database.read_db(),
            key,
            clock,
            http: reqwest::Client::new(),
            workers,
            database,
            args,
            stop: Some(stop),
            running: Some(running),
        })
    }

    async fn launch(
        database: &Database,
        args: &ServeArgs,
        key: &TokenKey,
        clock: &ManualClock,
    ) -> anyhow::Result<(App, Workers)> {
        let mut app =
            App::build_with_clock(database, args.clone(), key.clone(), Arc::new(clock.clone()))
                .await?;
        let workers = app
            .detach_workers()
            .ok_or_else(|| anyhow::anyhow!("a new server has its workers"))?;
        Ok((app, workers))
    }

    /// Stops the server (as a deploy would) and starts a new one on the same
    /// database, secret and clock; `base` then names the new one.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            tokio::time::timeout(Duration::from_secs(30), running).await???;
        }
        let (app, workers) =
            Self::launch(&self.database, &self.args, &self.key, &self.clock).await?;
        self.base = format!("http://{}", app.local_addr()?);
        self.store = app.store();
        self.workers = workers;
        let (stop, stopped) = oneshot::channel::<()>();
        self.stop = Some(stop);
        self.running = Some(tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        })));
        Ok(())
    }

    /// Calls the API; error answers must be problem documents. Non-JSON bodies
    /// (e.g. `/metrics`) come back as a JSON string.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(
            method.parse().expect("method"),
            format!("{}{path}", self.base),
        );
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = res.text().await.expect("body");
        if status >= 400 {
            assert_eq!(
                content_type, "application/problem+json",
                "{status} must be a problem document: {text}"
            );
        }
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// Signs in; returns the session token.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/sessions",
                None,
                Some(json!({ "email": email, "password": password })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// The link token of the latest send of `invitation`, derived as the email worker does.
    pub async fn token_of(&self, org: OrgId, invitation: InvitationId) -> String {
        let stream = StreamId::new(org.stream_name()).expect("stream");
        let events = self
            .store
            .read_stream(&stream, 1, 10_000)
            .await
            .expect("read");
        let send: SendId = events
            .iter()
            .rev()
            .filter_map(|r| decode::<OrgEvent>(&r.event_type, r.schema_version, &r.payload).ok())
            .find_map(|e| match e {
                OrgEvent::UserInvited(i) if i.invitation_id == invitation => Some(i.send_id),
                OrgEvent::InvitationResent(r) if r.invitation_id == invitation => Some(r.send_id),
                _ => None,
            })
            .expect("a send");
        self.key
            .invitation_token(invitation, send)
            .expose()
            .to_owned()
    }

    /// Steps the workers until nothing is left to do: the read models reach the
    /// log's head, every due email is sent, every due invitation expired.
    pub async fn drain(&self) {
        loop {
            let head = self.store.head().await.expect("head");
            assert!(
                queries::wait_for(&self.read, head, Duration::from_secs(10))
                    .await
                    .expect("wait"),
                "the read models reach the head"
            );
            let mut progressed = false;
            while let EmailStep::Progressed { .. } =
                self.workers.email.step().await.expect("email step")
            {
                progressed = true;
            }
            progressed |= self
                .workers
                .expiry
                .step()
                .await
                .expect("expiry step")
                .expired
                > 0;
            if !progressed {
                return;
            }
        }
    }

    /// The link token in the newest email to `to`, of which there must be more
    /// than `emails_before` once the workers are drained.
    pub async fn token_from_email(&self, to: &str, emails_before: usize) -> String {
        self.drain().await;
        let wanted = format!("<{to}>");
        let prefix = format!("{PUBLIC_URL}/invitations/");
        let mine: Vec<_> = self
            .sink
            .messages()
            .into_iter()
            .filter(|m| m.to.contains(&wanted))
            .collect();
        assert!(
            mine.len() > emails_before,
            "an email to {to} arrived (had {emails_before})"
        );
        let body = mine[mine.len() - 1]
            .data
            .replace("=\r\n", "")
            .replace("=3D", "=");
        let at = body.find(&prefix).expect("a link") + prefix.len();
        body[at..at + 64].to_owned()
    }

    /// Founds an organization with the operator's bootstrap; returns it and the owner's link token.
    pub async fn bootstrap(
        &self,
        name: &str,
        owner: &str,
        shape: ShapeArg,
        accounts: Vec<String>,
    ) -> (OrgId, String) {
        let args = CreateOrgArgs {
            name: name.into(),
            shape,
            owner_email: owner.into(),
            owner_name: "Olive Owner".into(),
            accounts,
            public_url: PUBLIC_URL.into(),
        };
        let app = Application::new(
            self.store.clone(),
            self.read.clone(),
            self.key.clone(),
            Arc::new(SystemClock),
            Source::Cli,
        );
        let created = create_org(&app, &args).await.expect("org");
        let token = created
            .accept_link
            .rsplit('/')
            .next()
            .expect("token")
            .to_owned();
        (created.org_id, token)
    }

    /// An organization with its owner joined and signed in: (org, session, position).
    pub async fn org_with_owner(
        &self,
        shape: ShapeArg,
        email: &str,
        accounts: Vec<String>,
    ) -> (OrgId, String, u64) {
        let (org, token) = self
            .bootstrap(&format!("Org of {email}"), email, shape, accounts)
            .await;
        let (status, joined) = self
            .call(
                "POST",
                "/api/invitations/accept",
                None,
                Some(json!({ "token": token, "full_name": "Owner", "password": PASSWORD })),
            )
            .await;
        assert_eq!(status, 201, "{joined}");
        let session = self.sign_in(email, PASSWORD).await;
        (org, session, joined["position"].as_u64().expect("position"))
    }

    /// Invites and accepts a member with `role` fields: (user id, session, position).
    pub async fn member(
        &self,
        org: OrgId,
        owner: &str,
        email: &str,
        role: Value,
    ) -> (String, String, u64) {
        let mut body = json!({ "email": email, "full_name": email });
        if let (Some(b), Some(r)) = (body.as_object_mut(), role.as_object()) {
            b.extend(r.clone());
        }
        let (status, invited) = self
            .call(
                "POST",
                &format!("/api/orgs/{org}/invitations"),
                Some(owner),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{invited}");
        let invitation: InvitationId = invited["invitation_id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid");
        let link = self.token_of(org, invitation).await;
        let (status, joined) = self
            .call(
                "POST",
                "/api/invitations/accept",
                None,
                Some(json!({ "token": link, "full_name": email, "password": PASSWORD })),
            )
            .await;
        assert_eq!(status, 201, "{joined}");
        (
            joined["user_id"].as_str().expect("id").to_owned(),
            self.sign_in(email, PASSWORD).await,
            joined["position"].as_u64().expect("position"),
        )
    }

    /// Invites a person as `owner`; the answer must be 201. Returns the invitation.
    pub async fn invite(&self, org: OrgId, owner: &str, body: Value) -> InvitationId {
        let (status, invited) = self
            .call(
                "POST",
                &format!("/api/orgs/{org}/invitations"),
                Some(owner),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{invited}");
        invited["invitation_id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid")
    }

    /// A new person accepts the link `token` with a name and the test password.
    pub async fn accept_as_new(&self, token: &str, full_name: &str) -> (u16, Value) {
        self.call(
            "POST",
            "/api/invitations/accept",
            None,
            Some(json!({ "token": token, "full_name": full_name, "password": PASSWORD })),
        )
        .await
    }

    /// Another instance of Roster over the same log and database: its own
    /// caches, the wall clock. For tests of what one instance sees of another's
    /// changes.
    pub fn another_instance(&self) -> Application {
        Application::new(
            self.store.clone(),
            self.read.clone(),
            self.key.clone(),
            Arc::new(SystemClock),
            Source::Api,
        )
    }

    /// The problem type's last segment (the rule's name) of an answer.
    pub fn rule(answer: &Value) -> &str {
        answer["type"]
            .as_str()
            .and_then(|t| t.rsplit('/').next())
            .unwrap_or_default()
    }
}
