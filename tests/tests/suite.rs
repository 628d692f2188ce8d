//! Roster's end-to-end tests, in one binary so the workspace is linked once: each
//! module is one area (the HTTP API, the event store, the workers, the faults on
//! the real `roster` binary, the web page in Chromium). They are integration tests
//! of the root package, so `cargo test` builds the `roster` binary the fault
//! tests start in the same invocation, with the same features, and never a stale one.
//! `hostile_sign_ins` measures this process's peak memory and runs alone (`memory`).

mod api_authorization;
mod api_bulk;
mod api_contract;
mod api_errors;
mod api_events;
mod api_idempotency;
mod api_invitations;
mod api_invitee;
mod api_keys;
mod api_members;
mod api_sessions;
mod api_sso;
mod api_throttling;
mod audit_cli;
mod bootstrap;
mod command_handler;
mod connection_budget;
mod eventstore_conformance;
mod eventstore_gap_safety;
mod eventstore_restore;
mod fault_database;
mod fault_kill9;
mod fault_read_only;
mod fault_smtp;
mod fault_stuck_worker;
mod hostile_connections;
mod hostile_input;
mod operator_cli;
mod private_files;
mod projections;
mod scim;
mod serve;
mod soak;
mod tamper_evidence;
mod use_cases;
mod web_assets;
mod web_browser;
mod web_screenshots;
mod web_sso;
mod web_team;
mod workers;
