//! Credentials: the email index identities are unique by, and their password
//! hashes. Stored in `roster_storage::credentials`; re-exported here so the
//! identity rules and their table read as one place.

pub use roster_storage::credentials::{by_email, hash_of, insert, replace_password, Credentials};
