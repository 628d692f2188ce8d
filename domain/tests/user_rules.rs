//! The user identity aggregate, Given / When / Then.

mod common;

use common::*;
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
