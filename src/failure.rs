//! Why a `roster` command failed. `main` prints one line: the error and each
//! cause it does not already say ([`roster_domain::error_chain`]).

use std::path::PathBuf;

use roster_commands::{HandleError, UseCaseError};
use roster_domain::{DomainError, OrgId};

/// A failed `roster` command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] crate::database::DatabaseError),
    /// The server could not start or stopped with an error.
    #[error("the server failed")]
    Serve(#[from] crate::app::AppError),
    /// The server secret could not be had.
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    /// The event log could not be read or written.
    #[error("the event log failed")]
    Store(#[from] roster_eventstore::StoreError),
    /// A use case refused or failed.
    #[error(transparent)]
    UseCase(#[from] UseCaseError),
    /// An organization could not be founded.
    #[error(transparent)]
    Bootstrap(#[from] crate::bootstrap::BootstrapError),
    /// An organization's state could not be loaded from the log.
    #[error("an organization could not be loaded")]
    Load(#[from] HandleError<DomainError>),
    /// A read model could not be read.
    #[error("a read model could not be read")]
    Query(#[from] roster_projections::queries::QueryError),
    /// A read model could not be brought up to date or rebuilt.
    #[error("a read model could not be rebuilt")]
    Projection(#[from] roster_projections::ProjectionError),
    /// An argument is not what it must be.
    #[error("{flag}: {value:?} is not {expected}")]
    Argument {
        /// The flag or argument.
        flag: &'static str,
        /// What was given.
        value: String,
        /// What it must be.
        expected: String,
    },
    /// An argument breaks a rule of the domain.
    #[error("{flag}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// The rule it breaks.
        #[source]
        source: roster_domain::TextError,
    },
    /// No organization has this id.
    #[error("no organization {0}")]
    NoSuchOrganization(OrgId),
    /// A file could not be read or written.
    #[error("cannot {action} {}", path.display())]
    File {
        /// read or write.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A seal file is not a valid seal.
    #[error("{}", path.display())]
    Seal {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: roster_eventstore::seal::SealError,
    },
    /// The answer could not be written to standard output.
    #[error("cannot write the answer")]
    Output(#[from] std::io::Error),
    /// A history line could not be written.
    #[error("cannot write the history")]
    Csv(#[from] csv::Error),
    /// A history line could not be encoded.
    #[error("cannot write the history")]
    Json(#[from] serde_json::Error),
    /// `seal` was asked to seal a log that does not verify.
    #[error(
        "the log does not verify ({0} problem(s)); run roster verify, and seal only a clean log"
    )]
    UnverifiedLog(usize),
    /// `replay --verify` found differences.
    #[error("the rebuilt read models differ from the live ones (listed above)")]
    ReplayDiffers,
    /// `verify` found tampering.
    #[error("the event log has been tampered with (events listed above)")]
    Tampered,
}

impl CliError {
    /// `raw` is not an organization id.
    pub fn not_an_org(flag: &'static str, raw: &str) -> Self {
        CliError::Argument {
            flag,
            value: raw.to_owned(),
            expected: "an organization id (a UUID)".to_owned(),
        }
    }
}
