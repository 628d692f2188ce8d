//! `roster`: thin entry point. Parses flags, sets up logging, runs the subcommand,
//! and turns any failure into one line on stderr and a non-zero exit.

use std::process::ExitCode;

use clap::Parser;
use roster::app::{shutdown_signal, App};
use std::sync::Arc;

use roster::bootstrap::create_org;
use roster::failure::CliError;
use roster::{Cli, Command, Database, OrgCommand};
use roster_commands::{Application, SystemClock};
use roster_eventstore::Source;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of the system allocator: glibc's `malloc`/`free` (with its
/// chunk consolidation) took 17% of the server's CPU under the invite load and
/// about 27% of a rebuild's (`perf`, docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("roster: {}", roster_domain::error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let database =
        Database::connect_sized(&cli.database_url, cli.db_connections, cli.db_idle_timeout).await?;
    match cli.command {
        Command::Migrate => {
            database.migrate().await?;
            tracing::info!(backend = %database.describe(), "database is up to date");
            Ok(())
        }
        Command::Org(command) => {
            database.migrate().await?;
            let store = database.event_store().await?;
            let key = roster::secret::load_token_key(cli.secret.as_ref(), &cli.secret_file)?;
            let app = Application::new(
                store,
                database.read_db(),
                key,
                Arc::new(SystemClock),
                Source::Cli,
            );
            operator(&app, command).await
        }
        Command::Replay(args) => {
            database.migrate().await?;
            let store = database.event_store().await?;
            match roster::audit::replay(&database.read_db(), store, &args).await? {
                true => Ok(()),
                false => Err(CliError::ReplayDiffers),
            }
        }
        Command::History(args) => {
            database.migrate().await?;
            let store = database.event_store().await?;
            let stdout = std::io::stdout();
            roster::audit::history(&database.read_db(), store, &args, &mut stdout.lock()).await
        }
        Command::Seal(args) => {
            database.migrate().await?;
            let store = database.event_store().await?;
            let key = roster::secret::load_token_key(cli.secret.as_ref(), &cli.secret_file)?;
            roster::audit::seal(store, &key, &args.out).await
        }
        Command::Verify(args) => {
            database.migrate().await?;
            let store = database.event_store().await?;
            let seal = match &args.seal {
                Some(file) => Some((
                    file.as_path(),
                    roster::secret::load_token_key(cli.secret.as_ref(), &cli.secret_file)?,
                )),
                None => None,
            };
            let seal = seal.as_ref().map(|(file, key)| (*file, key));
            match roster::audit::verify(store, seal).await? {
                true => Ok(()),
                false => Err(CliError::Tampered),
            }
        }
        Command::RebasePositions => {
            database.migrate().await?;
            match &database {
                roster::Database::Postgres(pool) => {
                    let store = roster_eventstore::PgStore::new(pool.clone()).await?;
                    store.rebase_positions().await?;
                    println!("positions rebased: new events will follow every stored one");
                    Ok(())
                }
                roster::Database::Sqlite(_) => {
                    println!("nothing to do: SQLite positions do not depend on transaction ids");
                    Ok(())
                }
            }
        }
        Command::Serve(args) => {
            let key = roster::secret::load_token_key(cli.secret.as_ref(), &cli.secret_file)?;
            let app = App::build(&database, args, key).await?;
            let addr = app.local_addr()?;
            tracing::info!(%addr, backend = %database.describe(), "roster is serving");
            Ok(app.run_until(shutdown_signal()).await?)
        }
    }
}

/// `roster org …`: the operator's commands.
async fn operator(app: &Application, command: OrgCommand) -> Result<(), CliError> {
    let stdout = std::io::stdout();
    match command {
        OrgCommand::Create(args) => {
            let created = create_org(app, &args).await?;
            println!("organization {} created", created.org_id);
            println!(
                "owner invitation {} sent to {}",
                created.invitation_id,
                args.owner_email.trim()
            );
            println!(
                "accept link (valid until {}):",
                created.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
            );
            println!("{}", created.accept_link);
            Ok(())
        }
        OrgCommand::List => roster::operator::list(app, &mut stdout.lock()).await,
        OrgCommand::Show { org } => roster::operator::show(app, &org, &mut stdout.lock()).await,
        OrgCommand::LiftSso { org } => {
            roster::operator::lift_sso(app, &org, &mut stdout.lock()).await
        }
        OrgCommand::InviteOwner(args) => {
            roster::operator::invite_owner(
                app,
                &args.org,
                &args.email,
                &args.name,
                &args.public_url,
                &mut stdout.lock(),
            )
            .await
        }
    }
}
