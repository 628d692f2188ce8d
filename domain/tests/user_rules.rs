//! The user identity aggregate, Given / When / Then.

use crate::common::*;
use insta::assert_json_snapshot;
use roster_domain::user::*;

fn register() -> UserCommand {
    UserCommand::RegisterUser {
        user_id: ANN,
        email: email("Ann@Example.com"),
        full_name: name("Ann Lee"),
    }
}

#[test]
fn a_new_identity_is_registered() {
    let events = decide(None, &register(), t0()).expect("registered");
    assert_json_snapshot!(events);
}

#[test]
fn an_identity_is_registered_once() {
    let state = decide(None, &register(), t0())
        .expect("registered")
        .iter()
        .fold(None, evolve);
    assert_eq!(
        decide(state.as_ref(), &register(), t0()),
        Err(UserError::AlreadyRegistered)
    );
}

#[test]
fn a_password_change_is_recorded_without_the_password() {
    let state = decide(None, &register(), t0())
        .expect("registered")
        .iter()
        .fold(None, evolve);
    let later = t0() + chrono::Duration::days(3);
    let events = decide(state.as_ref(), &UserCommand::ChangePassword, later).expect("changed");
    assert_json_snapshot!(events);
    let state = events.iter().fold(state, evolve).expect("user");
    assert_eq!(state.password_changed_at, later);
}

#[test]
fn an_unknown_identity_cannot_change_its_password() {
    assert_eq!(
        decide(None, &UserCommand::ChangePassword, t0()),
        Err(UserError::UserNotFound)
    );
}

/// Ann registered, then asked for reset `reset` at minute 0 (valid 30 minutes).
fn with_reset(reset: u128) -> Option<User> {
    let registered = decide(None, &register(), t0())
        .expect("registered")
        .iter()
        .fold(None, evolve);
    decide(
        registered.as_ref(),
        &UserCommand::RequestPasswordReset {
            reset_id: uuid::Uuid::from_u128(reset),
            expires_at: t0() + chrono::Duration::minutes(30),
        },
        t0(),
    )
    .expect("requested")
    .iter()
    .fold(registered, evolve)
}

#[test]
fn a_reset_link_changes_the_password_once() {
    let state = with_reset(1);
    let complete = UserCommand::CompletePasswordReset {
        reset_id: uuid::Uuid::from_u128(1),
    };
    let at = t0() + chrono::Duration::minutes(10);
    let events = decide(state.as_ref(), &complete, at).expect("changed");
    assert_json_snapshot!(events);
    let after = events.iter().fold(state, evolve);
    assert_eq!(
        decide(after.as_ref(), &complete, at),
        Err(UserError::ResetLinkInvalid),
        "used once"
    );
}

#[test]
fn a_reset_link_past_its_deadline_or_superseded_is_refused() {
    let state = with_reset(1);
    let late = t0() + chrono::Duration::minutes(30);
    assert_eq!(
        decide(
            state.as_ref(),
            &UserCommand::CompletePasswordReset {
                reset_id: uuid::Uuid::from_u128(1)
            },
            late
        ),
        Err(UserError::ResetLinkInvalid)
    );
    assert_eq!(
        decide(
            with_reset(2).as_ref(),
            &UserCommand::CompletePasswordReset {
                reset_id: uuid::Uuid::from_u128(1)
            },
            t0()
        ),
        Err(UserError::ResetLinkInvalid),
        "another reset's link"
    );
}
