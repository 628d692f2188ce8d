//! Configuration from flags and environment, in one clap tree.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

/// Reads a secret setting into a type whose `Debug` never shows it.
fn secret(raw: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(raw))
}

/// Where the database lives when none is configured: a SQLite file, so a newcomer
/// can start Roster with no server installed.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/roster.db";

/// Every setting's default, in one place: the flags below and
/// [`ServeArgs::ephemeral`] both read them.
pub mod defaults {
    /// `--listen`.
    pub const LISTEN: &str = "127.0.0.1:8080";
    /// `--public-url`.
    pub const PUBLIC_URL: &str = "http://127.0.0.1:8080";
    /// `--outbox`.
    pub const OUTBOX: &str = "./data/outbox";
    /// `--mail-from`.
    pub const MAIL_FROM: &str = "Roster <roster@localhost>";
    /// `--session-ttl-minutes`.
    pub const SESSION_TTL_MINUTES: u32 = 720;
    /// `--session-max-days`.
    pub const SESSION_MAX_DAYS: u32 = 7;
    /// `--shutdown-timeout` (seconds).
    pub const SHUTDOWN_TIMEOUT: u64 = 10;
    /// `--invite-ttl`.
    pub const INVITE_TTL: &str = "15m";
    /// `--max-connections`.
    pub const MAX_CONNECTIONS: u64 = 1024;
    /// `--max-connections-per-client`.
    pub const MAX_CONNECTIONS_PER_CLIENT: u64 = 64;
    /// `--header-timeout` (seconds).
    pub const HEADER_TIMEOUT: u64 = 10;
    /// `--max-concurrent-writes`.
    pub const MAX_CONCURRENT_WRITES: u64 = 32;
    /// `--db-connections`.
    pub const DB_CONNECTIONS: u32 = 16;
    /// `--db-idle-timeout`.
    pub const DB_IDLE_TIMEOUT: &str = "30s";
    /// `--secret-file`.
    pub const SECRET_FILE: &str = "./data/roster.secret";
}

/// Roster: event-sourced user management for a partner portal.
#[derive(Debug, Parser)]
#[command(name = "roster", version, about)]
pub struct Cli {
    /// Database to use: postgres://… in production, sqlite://… for the embedded default.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

    /// Secret (≥ 32 bytes) that invitation links are derived with; all instances
    /// must share it. Without it, one is kept in `--secret-file`.
    #[arg(long, env = "ROSTER_SECRET", hide_env_values = true, global = true, value_parser = secret)]
    pub secret: Option<SecretString>,

    /// The most PostgreSQL connections this instance opens, all pools and its own
    /// sessions together (see `database::ConnectionBudget`). Several instances must
    /// fit the server's `max_connections` together.
    #[arg(long, env = "ROSTER_DB_CONNECTIONS", default_value_t = defaults::DB_CONNECTIONS, global = true, value_parser = clap::value_parser!(u32).range(i64::from(crate::database::MIN_CONNECTIONS)..=1000))]
    pub db_connections: u32,

    /// How long an idle PostgreSQL connection of the requests' or the appends'
    /// pool is kept before it is closed, so a quiet instance gives them back.
    #[arg(long, env = "ROSTER_DB_IDLE_TIMEOUT", default_value = defaults::DB_IDLE_TIMEOUT, global = true, value_parser = humantime::parse_duration)]
    pub db_idle_timeout: std::time::Duration,

    /// Where the embedded default keeps its generated secret.
    #[arg(
        long,
        env = "ROSTER_SECRET_FILE",
        default_value = defaults::SECRET_FILE,
        global = true
    )]
    pub secret_file: std::path::PathBuf,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates the database first unless told not to).
    Serve(ServeArgs),
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Operator tasks on organizations (bootstrap).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Rebuild read models from the whole log (or compare them with `--verify`).
    Replay(ReplayArgs),
    /// Print an organization's audit history as JSON lines or CSV.
    History(HistoryArgs),
    /// Walk the log and check every event's hash chain; names any tampered event.
    Verify(VerifyArgs),
    /// Write each stream's head, authenticated with the server secret, to a file to
    /// keep apart from the database (`verify --seal` checks the log against it).
    Seal(SealArgs),
    /// After restoring a logical dump into a fresh PostgreSQL cluster: make new
    /// positions sort after every restored event (harmless at any other time).
    RebasePositions,
}

/// Settings of `roster verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Also check the log against this seal (from `roster seal`): finds history
    /// rewritten with its hash chain recomputed.
    #[arg(long)]
    pub seal: Option<std::path::PathBuf>,
}

/// Settings of `roster seal`.
#[derive(Debug, Clone, Args)]
pub struct SealArgs {
    /// Where to write the seal (keep it off the database's machine).
    #[arg(long)]
    pub out: std::path::PathBuf,
}

/// Settings of `roster replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Only this projection (members, invitations, access, deadlines, history).
    #[arg(long)]
    pub projection: Option<String>,
    /// Compare a fresh rebuild with the live tables instead of swapping it in.
    #[arg(long)]
    pub verify: bool,
}

/// Output formats of `roster history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

/// Settings of `roster history`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// The organization's id.
    #[arg(long, required_unless_present = "request")]
    pub org: Option<String>,
    /// Instead of an organization's history: every event one request caused, in
    /// any stream, with those workers recorded because of them: its correlation
    /// id, which is the `x-request-id` the server gave the request (or any of
    /// the chain's events' `correlation_id`).
    #[arg(long, conflicts_with = "org")]
    pub request: Option<uuid::Uuid>,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: HistoryFormat,
    /// Only events recorded at or after this RFC 3339 instant.
    #[arg(long)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events recorded before this RFC 3339 instant.
    #[arg(long)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Only this event type (e.g. RoleChanged).
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Only events by this actor (a user id, or `system`).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only events about this subject (a user, invitation or account id).
    #[arg(long)]
    pub subject: Option<String>,
}

/// `roster org …`
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization and invite its first owner; prints the accept link.
    Create(CreateOrgArgs),
    /// List every organization with its owners and open invitations.
    List,
    /// Show one organization: shape, accounts, members, open invitations.
    Show {
        /// The organization's id.
        org: String,
    },
    /// Invite a new owner as the operator (for an organization nobody can manage).
    InviteOwner(InviteOwnerArgs),
    /// Stop requiring single sign-on for an organization (its provider is down
    /// or misconfigured): its members may sign in with passwords again.
    LiftSso {
        /// The organization's id.
        org: String,
    },
}

/// Settings of `roster org invite-owner`.
#[derive(Debug, Clone, Args)]
pub struct InviteOwnerArgs {
    /// The organization's id.
    pub org: String,
    /// The new owner's email.
    #[arg(long)]
    pub email: String,
    /// The new owner's full name.
    #[arg(long)]
    pub name: String,
    /// Base of the accept link.
    #[arg(
        long,
        env = "ROSTER_PUBLIC_URL",
        default_value = defaults::PUBLIC_URL
    )]
    pub public_url: String,
}

/// Settings of `roster org create`.
#[derive(Debug, Clone, Args)]
pub struct CreateOrgArgs {
    /// The organization's name.
    #[arg(long)]
    pub name: String,
    /// `single` (roles owner/admin/standard) or `multi` (accounts, owner/contributor).
    #[arg(long, value_enum)]
    pub shape: ShapeArg,
    /// Email of the first owner, who gets the invitation.
    #[arg(long)]
    pub owner_email: String,
    /// Full name of the first owner.
    #[arg(long)]
    pub owner_name: String,
    /// An initial account (multi-account only); repeat for more.
    #[arg(long = "account")]
    pub accounts: Vec<String>,
    /// Base URL of the web page, for the accept link.
    #[arg(
        long,
        env = "ROSTER_PUBLIC_URL",
        default_value = defaults::PUBLIC_URL
    )]
    pub public_url: String,
}

/// The organization shape as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShapeArg {
    /// Single-account.
    Single,
    /// Multi-account.
    Multi,
}

/// Settings of `roster serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = defaults::LISTEN)]
    pub listen: SocketAddr,

    /// Do not run migrations on start (when they are run separately with `roster migrate`).
    #[arg(long, env = "ROSTER_NO_MIGRATE")]
    pub no_migrate: bool,

    /// SMTP server for invitation emails: `smtp://host:port` (add `?tls=required`
    /// for STARTTLS), `smtps://host` for implicit TLS, `user:password@` for auth.
    /// Without it, emails are written to `--outbox` and the links are logged.
    #[arg(long, env = "SMTP_URL", hide_env_values = true, value_parser = secret)]
    pub smtp_url: Option<SecretString>,

    /// Folder for `.eml` files when no SMTP server is configured.
    #[arg(long, env = "ROSTER_OUTBOX", default_value = defaults::OUTBOX)]
    pub outbox: std::path::PathBuf,

    /// Base URL of the web page, for the links in emails.
    #[arg(
        long,
        env = "ROSTER_PUBLIC_URL",
        default_value = defaults::PUBLIC_URL
    )]
    pub public_url: String,

    /// Sender of invitation emails.
    #[arg(
        long,
        env = "ROSTER_MAIL_FROM",
        default_value = defaults::MAIL_FROM
    )]
    pub mail_from: String,

    /// Minutes a session stays valid after its last use (sliding).
    #[arg(long, env = "ROSTER_SESSION_TTL_MINUTES", default_value_t = defaults::SESSION_TTL_MINUTES, value_parser = clap::value_parser!(u32).range(1..=525_600))]
    pub session_ttl_minutes: u32,

    /// Days a session lasts after sign-in at the most, however busy.
    #[arg(long, env = "ROSTER_SESSION_MAX_DAYS", default_value_t = defaults::SESSION_MAX_DAYS, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub session_max_days: u32,

    /// Seconds to let in-flight requests finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "ROSTER_SHUTDOWN_TIMEOUT", default_value_t = defaults::SHUTDOWN_TIMEOUT, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_timeout: u64,

    /// Reverse proxies (addresses or CIDR networks, comma-separated) whose
    /// `X-Forwarded-For` names the client; from anyone else the header is ignored.
    #[arg(long, env = "ROSTER_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<roster_api::client_addr::ProxyNet>,

    /// How long an invitation link works after each send: `15m`, `90s`, `2h`
    /// (a bare number is minutes).
    #[arg(long, env = "ROSTER_INVITE_TTL", default_value = defaults::INVITE_TTL, value_parser = parse_ttl)]
    pub invite_ttl: chrono::Duration,

    /// Connections served at once; further clients wait to be accepted.
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS", default_value_t = defaults::MAX_CONNECTIONS, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    /// Connections served at once from one client address (an IPv6 client: its
    /// /64); more are closed at once. Trusted proxies are exempt.
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS_PER_CLIENT", default_value_t = defaults::MAX_CONNECTIONS_PER_CLIENT, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections_per_client: u64,

    /// Seconds a client has to send its request headers, or to start its next
    /// request on a kept-alive connection, before it is disconnected.
    #[arg(long, env = "ROSTER_HEADER_TIMEOUT", default_value_t = defaults::HEADER_TIMEOUT, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub header_timeout_secs: u64,

    /// When set, `/metrics` requires `Authorization: Bearer <token>`.
    #[arg(long, env = "ROSTER_METRICS_TOKEN", hide_env_values = true, value_parser = secret)]
    pub metrics_token: Option<SecretString>,

    /// Writes (commands, sign-ins) handled at once; more wait their turn, up to
    /// 10 seconds, then get `503 busy`. Reads are not counted, so they stay fast
    /// under a burst of commands.
    #[arg(long, env = "ROSTER_MAX_CONCURRENT_WRITES", default_value_t = defaults::MAX_CONCURRENT_WRITES, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_concurrent_writes: u64,

    /// Let organizations connect single sign-on providers over plain http (a
    /// provider on a private network, development, tests). Off: issuers must
    /// be https.
    #[arg(long, env = "ROSTER_SSO_ALLOW_HTTP")]
    pub sso_allow_http: bool,
}

impl ServeArgs {
    /// The defaults (see [`defaults`]) for a server on an ephemeral loopback
    /// port, as tests want: emails go to a temporary outbox, and shutdown waits
    /// at most five seconds.
    pub fn ephemeral() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            no_migrate: false,
            smtp_url: None,
            outbox: std::env::temp_dir().join("roster-outbox"),
            public_url: defaults::PUBLIC_URL.to_owned(),
            mail_from: defaults::MAIL_FROM.to_owned(),
            session_ttl_minutes: defaults::SESSION_TTL_MINUTES,
            session_max_days: defaults::SESSION_MAX_DAYS,
            shutdown_timeout: 5,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            max_concurrent_writes: defaults::MAX_CONCURRENT_WRITES,
            invite_ttl: parse_ttl(defaults::INVITE_TTL)
                .unwrap_or_else(|_| chrono::Duration::minutes(15)),
            max_connections: defaults::MAX_CONNECTIONS,
            max_connections_per_client: defaults::MAX_CONNECTIONS_PER_CLIENT,
            header_timeout_secs: defaults::HEADER_TIMEOUT,
            sso_allow_http: false,
        }
    }

    /// The drain timeout as a duration.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout)
    }
}

/// Parses a lifetime like `15m`, `90s`, `2h` or `1h 30m` (a bare number is
/// minutes), from ten seconds to thirty days.
pub fn parse_ttl(raw: &str) -> Result<chrono::Duration, String> {
    let raw = raw.trim();
    let std = if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        humantime::parse_duration(&format!("{raw}m"))
    } else {
        humantime::parse_duration(raw)
    }
    .map_err(|e| format!("{raw:?}: {e} (write e.g. 15m, 90s, 2h)"))?;
    let ttl = chrono::Duration::from_std(std).map_err(|_| format!("{raw:?}: too long"))?;
    if ttl < chrono::Duration::seconds(10) || ttl > chrono::Duration::days(30) {
        return Err(format!("{raw:?}: choose between 10s and 720h"));
    }
    Ok(ttl)
}

#[cfg(test)]
mod ttl_tests {
    use super::{defaults, parse_ttl};

    #[test]
    fn the_default_invitation_lifetime_parses() {
        assert_eq!(
            parse_ttl(defaults::INVITE_TTL),
            Ok(chrono::Duration::minutes(15))
        );
    }

    #[test]
    fn lifetimes_read_with_their_unit_and_stay_in_bounds() {
        assert_eq!(parse_ttl("15m"), Ok(chrono::Duration::minutes(15)));
        assert_eq!(parse_ttl("90s"), Ok(chrono::Duration::seconds(90)));
        assert_eq!(parse_ttl("2h"), Ok(chrono::Duration::hours(2)));
        assert_eq!(parse_ttl("20"), Ok(chrono::Duration::minutes(20)));
        assert!(parse_ttl("5s").is_err());
        assert_eq!(parse_ttl("1h 30m"), Ok(chrono::Duration::minutes(90)));
        assert!(parse_ttl("15 parsecs").is_err());
        assert!(parse_ttl("31days").is_err());
        assert!(parse_ttl("").is_err());
    }
}
