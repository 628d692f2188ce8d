//! `roster-bench`: measures Roster against raw PostgreSQL baselines taken in the
//! same run on the same server, and prints one JSON line per case and a table.
//! `scripts/bench` builds it and the server, installs pgbench, and runs it.

mod cases;
mod cpu;
mod load;
mod pg;
mod report;
mod seed;
mod server;
mod smtp;

use std::path::PathBuf;

use clap::Parser;

/// Command-line settings.
#[derive(Debug, Parser)]
#[command(
    name = "roster-bench",
    about = "Roster's benchmarks, each a ratio to a baseline of the same run"
)]
struct Cli {
    /// A PostgreSQL URL with the right to create databases.
    #[arg(
        long,
        env = "ROSTER_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    database_url: String,
    /// The release `roster` binary to load.
    #[arg(long, default_value = "target/release/roster")]
    roster: PathBuf,
    /// A smoke run: small data sets, one short round each.
    #[arg(long)]
    quick: bool,
    /// Only the cases whose group is named: store, app, expiry.
    #[arg(long = "only", value_delimiter = ',')]
    only: Vec<String>,
    /// Concurrent clients (connections) of the throughput cases.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds per measured round (default 10, or 3 with --quick).
    #[arg(long)]
    seconds: Option<u64>,
    /// Where to write the table (Markdown) at the end.
    #[arg(long)]
    table: Option<PathBuf>,
}

/// How big the data sets are.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Organizations with a signed-in owner, invited into.
    pub orgs: usize,
    /// Members of the large organization whose first page is read.
    pub big_org_members: usize,
    /// Events of the long-history organization.
    pub long_history: usize,
    /// Interleaved commands on the long and the fresh organization.
    pub long_rounds: usize,
    /// Events in the log for the rebuild and memory cases.
    pub log_events: usize,
    /// Invitations sharing one deadline.
    pub expiring: usize,
    /// How far ahead that deadline is when seeding starts.
    pub expiry_margin: chrono::Duration,
}

/// What every case needs to know.
pub struct Settings {
    /// The admin URL.
    pub admin_url: String,
    /// The server binary.
    pub roster: PathBuf,
    /// Scratch files (pgbench scripts, outboxes).
    pub work: PathBuf,
    /// Concurrent clients for throughput cases.
    pub clients: usize,
    /// Seconds per measured round.
    pub seconds: u64,
    /// Rounds per case (the median is reported).
    pub rounds: usize,
    /// Data set sizes.
    pub size: Sizes,
    /// Where logs worth reading afterwards are kept (the table's folder).
    pub keep: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let work = std::env::temp_dir().join(format!("roster-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let size = if cli.quick {
        Sizes {
            orgs: 100,
            big_org_members: 10_000,
            long_history: 10_000,
            long_rounds: 100,
            log_events: 100_000,
            expiring: 10_000,
            expiry_margin: chrono::Duration::seconds(20),
        }
    } else {
        Sizes {
            orgs: 1_000,
            big_org_members: 10_000,
            long_history: 50_000,
            long_rounds: 400,
            log_events: 1_000_000,
            expiring: 100_000,
            expiry_margin: chrono::Duration::seconds(60),
        }
    };
    let settings = Settings {
        admin_url: cli.database_url,
        roster: cli.roster,
        work: work.clone(),
        clients: cli.clients.max(1),
        seconds: cli.seconds.unwrap_or(if cli.quick { 3 } else { 10 }).max(1),
        rounds: if cli.quick { 1 } else { 3 },
        size,
        keep: cli
            .table
            .as_ref()
            .and_then(|t| t.parent().map(PathBuf::from)),
    };
    let wanted = |group: &str| cli.only.is_empty() || cli.only.iter().any(|g| g == group);
    let mut results = Vec::new();
    if wanted("store") {
        results.extend(cases::append::run(&settings).await?);
    }
    if wanted("app") {
        results.extend(cases::app::run(&settings).await?);
    }
    if wanted("email") {
        for r in cases::email::run(&settings).await? {
            r.emit();
            results.push(r);
        }
    }
    if wanted("expiry") {
        let r = cases::expiry::run(&settings).await?;
        r.emit();
        results.push(r);
    }
    let table = report::table(&results);
    eprintln!("\n{table}");
    if let Some(path) = cli.table {
        std::fs::write(path, &table)?;
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
