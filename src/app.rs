//! Building and running the server: bind first (so tests can ask for port 0 and
//! read the real one back), then serve until a shutdown signal, draining in-flight
//! requests for a bounded time.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use secrecy::ExposeSecret;

use roster_api::AppState;
use roster_commands::tokens::TokenKey;
use roster_commands::Application;
use roster_eventstore::{Clock, EventStore, Source, SystemClock};
use roster_workers::{EmailWorker, ExpiryWorker, Mailer, Postage, WorkerMetrics};
use tokio::net::TcpListener;

use crate::config::ServeArgs;
use crate::database::{Database, DatabaseError};

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Database trouble, already worded for the operator.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// The listen address is taken or not ours.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The mail settings are not usable.
    #[error("{0}")]
    Mail(String),
    /// The read models could not be installed.
    #[error("cannot install the read models: {0}")]
    Projections(#[source] roster_projections::ProjectionError),
    /// The server failed while running.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// The background workers a server runs beside its projections.
pub struct Workers {
    /// Sends invitation emails.
    pub email: EmailWorker,
    /// Records expiries at the deadline.
    pub expiry: ExpiryWorker,
}

/// A built, bound, not yet running Roster server.
pub struct App {
    listener: TcpListener,
    state: AppState,
    /// What the projector and the workers read and write through.
    background: roster_storage::Db,
    /// The event store as the followers read it (their own connections).
    followers: Arc<dyn EventStore>,
    args: ServeArgs,
    workers: Option<Workers>,
}

impl App {
    /// Connects to the database, migrates it (unless disabled) and binds the listener.
    pub async fn build(
        database: &Database,
        args: ServeArgs,
        key: TokenKey,
    ) -> Result<Self, AppError> {
        Self::build_with_clock(database, args, key, Arc::new(SystemClock)).await
    }

    /// Like [`App::build`], with the time read from `clock` (tests drive it).
    pub async fn build_with_clock(
        database: &Database,
        args: ServeArgs,
        key: TokenKey,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AppError> {
        if !args.no_migrate {
            database.migrate().await?;
        }
        let stores = database.stores_with_clock(clock.clone()).await?;
        let store = stores.requests.clone();
        // Read-model tables exist before the first request, not when a runner gets to them.
        for p in roster_projections::all() {
            roster_projections::runner::ensure_installed(&database.read_db(), p.as_ref())
                .await
                .map_err(AppError::Projections)?;
        }
        let mailer = Mailer::new(
            args.smtp_url.as_ref().map(ExposeSecret::expose_secret),
            args.outbox.clone(),
        )
        .map_err(AppError::Mail)?;
        let from: lettre::message::Mailbox = args.mail_from.parse().map_err(|e| {
            AppError::Mail(format!(
                "ROSTER_MAIL_FROM {:?} is not a mailbox: {e}",
                args.mail_from
            ))
        })?;
        let listener = TcpListener::bind(args.listen)
            .await
            .map_err(|e| AppError::Bind {
                addr: args.listen,
                source: e,
            })?;
        let mut application = Application::new(
            store.clone(),
            database.read_db(),
            key.clone(),
            clock.clone(),
            Source::Api,
        )
        .with_invite_ttl(args.invite_ttl);
        application.session_ttl = chrono::Duration::minutes(i64::from(args.session_ttl_minutes));
        application.session_max_age = chrono::Duration::days(i64::from(args.session_max_days));
        application.providers = Arc::new(roster_commands::sso::provider::Providers::new(
            args.sso_allow_http,
        ));
        let worker_metrics: Arc<WorkerMetrics> = Arc::default();
        let background = stores.background.clone();
        let email = EmailWorker::with_metrics(
            background.clone(),
            stores.followers.clone(),
            application.orgs.clone(),
            clock.clone(),
            Postage {
                mailer,
                from,
                public_url: args.public_url.trim_end_matches('/').to_owned(),
                key: key.clone(),
                metrics: worker_metrics.clone(),
            },
        );
        let mut expiry = ExpiryWorker::new(
            background.clone(),
            stores.followers.clone(),
            application.orgs.clone(),
            clock.clone(),
        );
        expiry.metrics = worker_metrics.clone();
        Ok(Self {
            listener,
            background,
            followers: stores.followers,
            workers: Some(Workers { email, expiry }),
            state: AppState {
                live: roster_api::live_feed::LiveLog::new(application.store.clone()),
                keys_in_flight: Arc::default(),
                app: application,
                metrics: Arc::default(),
                extra_metrics: {
                    let m = worker_metrics.clone();
                    Arc::new(move || m.render())
                },
                stalled_workers: {
                    let m = worker_metrics.clone();
                    Arc::new(move || m.stalls_described())
                },
                secure_cookies: args.public_url.starts_with("https://"),
                public_url: Arc::from(args.public_url.trim_end_matches('/')),
                metrics_token: args
                    .metrics_token
                    .as_ref()
                    .map(|t| Arc::from(t.expose_secret())),
                trusted_proxies: Arc::new(roster_api::client_addr::TrustedProxies(
                    args.trusted_proxies.clone(),
                )),
                writes: Arc::new(roster_api::write_gate::WriteGate::new(
                    usize::try_from(args.max_concurrent_writes).unwrap_or(usize::MAX),
                    std::time::Duration::from_secs(10),
                )),
            },
            args,
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> Result<SocketAddr, AppError> {
        self.listener.local_addr().map_err(AppError::Serve)
    }

    /// Takes the workers out, so the server runs without them and the caller
    /// steps them itself (tests drain them instead of waiting for them).
    pub fn detach_workers(&mut self) -> Option<Workers> {
        self.workers.take()
    }

    /// The application the server's handlers run on.
    pub fn application(&self) -> &roster_commands::Application {
        &self.state.app
    }

    /// The event store the server writes to.
    pub fn store(&self) -> Arc<dyn EventStore> {
        self.state.app.store.clone()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish for
    /// at most the configured drain timeout. The projector and the workers run alongside and
    /// stop with the server.
    pub async fn run_until(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let (stop_runners, runners_stopped) = tokio::sync::watch::channel(false);
        let runners = vec![tokio::spawn(roster_projections::runner::run(
            self.background.clone(),
            self.followers.clone(),
            roster_projections::all(),
            runners_stopped.clone(),
        ))];
        let mut workers = Vec::new();
        if let Some(Workers { email, expiry }) = self.workers.take() {
            workers.push(tokio::spawn(expiry.run(runners_stopped.clone())));
            workers.push(tokio::spawn(email.run(runners_stopped.clone())));
        }
        let served = self.serve(shutdown).await;
        stop_runners.send_replace(true);
        for worker in workers {
            let _ = worker.await;
        }
        for runner in runners {
            let _ = runner.await;
        }
        served
    }

    async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let limits = crate::server::ConnectionLimits {
            max_connections: usize::try_from(self.args.max_connections).unwrap_or(usize::MAX),
            per_client: usize::try_from(self.args.max_connections_per_client).unwrap_or(usize::MAX),
            header_timeout: std::time::Duration::from_secs(self.args.header_timeout_secs),
            exempt: self.state.trusted_proxies.clone(),
        };
        let router = roster_api::router(self.state);
        let drain = self.args.shutdown_timeout();
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let server = crate::server::serve(self.listener, router, limits, async move {
            shutdown.await;
            let _ = stopping_tx.send(());
        });
        let server = tokio::spawn(server);
        tokio::pin!(server);
        tokio::select! {
            joined = &mut server => return flatten(joined),
            _ = stopping_rx => {}
        }
        match tokio::time::timeout(drain, &mut server).await {
            Ok(joined) => flatten(joined),
            Err(_) => {
                tracing::warn!(
                    ?drain,
                    "in-flight requests did not finish in time; closing them"
                );
                server.abort();
                Ok(())
            }
        }
    }
}

fn flatten(joined: Result<std::io::Result<()>, tokio::task::JoinError>) -> Result<(), AppError> {
    match joined {
        Ok(result) => result.map_err(AppError::Serve),
        Err(e) => Err(AppError::Serve(std::io::Error::other(e))),
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; draining");
}
