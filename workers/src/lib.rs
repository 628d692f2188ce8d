//! Roster's background work: sending invitation emails over SMTP and recording
//! invitation expiry at the deadline. Workers follow the log like projections do,
//! run one at a time across instances (advisory lock), expose a single `step` so
//! tests drive them without sleeping, and have idempotent effects.
//!
//! Nothing runs yet; the workers arrive with issue #6.
