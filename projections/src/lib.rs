//! Read models of Roster, projected from the event log: the member list, pending
//! invitations, account access (the one table authorization reads), invitation
//! deadlines and the audit history. A runner follows the log from each
//! projection's checkpoint and applies batches and the checkpoint in one
//! transaction, so a crash never applies an event twice or loses one.
//!
//! Nothing is projected yet; the runner and read models arrive with issue #4.
