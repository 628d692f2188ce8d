//! Why a table could not be read or written.

/// A failed read or write of one of these tables.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database refused or did not answer.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A stored value is not what its column must hold (a row written by hand,
    /// or by a build that wrote it differently): reported, never guessed at.
    #[error("{table}.{column} holds an unreadable value: {reason}")]
    Unreadable {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// What did not parse.
        reason: String,
    },
}

impl StorageError {
    /// A parse failure of `table`.`column`, for `map_err`.
    pub fn unreadable<E: std::fmt::Display>(
        table: &'static str,
        column: &'static str,
    ) -> impl Fn(E) -> Self {
        move |e| Self::Unreadable {
            table,
            column,
            reason: e.to_string(),
        }
    }
}
