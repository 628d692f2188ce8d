//! The `roster` binary as a library: command-line configuration, choosing and
//! migrating the database, and wiring the HTTP server, so tests can build the same
//! application on port 0 and talk to it.

pub mod app;
pub mod audit;
pub mod bootstrap;
pub mod config;
pub mod database;
pub mod failure;
pub mod operator;
pub mod secret;
pub mod server;

pub use app::App;
pub use config::{
    Cli, Command, CreateOrgArgs, HistoryArgs, HistoryFormat, OrgCommand, ReplayArgs, ServeArgs,
    ShapeArg,
};
pub use database::Database;
