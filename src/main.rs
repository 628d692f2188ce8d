//! `roster`: thin entry point. Parses flags, sets up logging, runs the subcommand,
//! and turns any failure into one line on stderr and a non-zero exit.

use std::process::ExitCode;

use clap::Parser;
use roster::app::{shutdown_signal, App};
use roster::{Cli, Command, Database};
use tracing_subscriber::EnvFilter;

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
        Err(message) => {
            eprintln!("roster: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let database = Database::connect(&cli.database_url)
        .await
        .map_err(|e| e.to_string())?;
    match cli.command {
        Command::Migrate => {
            database.migrate().await.map_err(|e| e.to_string())?;
            tracing::info!(backend = %database.describe(), "database is up to date");
            Ok(())
        }
        Command::Serve(args) => {
            let app = App::build(&database, args)
                .await
                .map_err(|e| e.to_string())?;
            let addr = app.local_addr().map_err(|e| e.to_string())?;
            tracing::info!(%addr, backend = %database.describe(), "roster is serving");
            app.run_until(shutdown_signal())
                .await
                .map_err(|e| e.to_string())
        }
    }
}
