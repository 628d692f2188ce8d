//! The domain's tests in one binary (linked once): every rule as Given events /
//! When command / Then events or refusal, the stored shape of every event, the
//! invariants under random command sequences, and decoding of hostile input.

mod common;
mod decoding_fuzz;
mod event_catalogue;
mod invariants;
mod organization_rules;
mod sso_rules;
mod user_rules;
