//! Single sign-on rules as Given events / When command / Then events (snapshotted)
//! or the refusal: connecting an organization's provider, linking its identities
//! to members, and joining without an invitation.

use crate::common::*;
use insta::{assert_json_snapshot, assert_snapshot};
use roster_domain::organization::*;
use roster_domain::*;

const ISSUER: &str = "https://login.acme.io";

/// A single-account organization (owner at acme.io) with Ann (example.com) a member.
fn members() -> Vec<OrgEvent> {
    extend(
        single_org_with_owner(),
        vec![
            (
                AS_OWNER,
                invite(
                    INV_ANN,
                    "ann@acme.io",
                    "Ann Lee",
                    single(SingleRole::Admin),
                    2,
                ),
                at(2),
            ),
            (Actor::System, accept(INV_ANN, 2, ANN, "Ann Lee"), at(3)),
        ],
    )
}

fn connected(join_role: Option<Role>) -> Vec<OrgEvent> {
    extend(
        members(),
        vec![(
            AS_OWNER,
            OrgCommand::ConfigureSso {
                connection: sso(ISSUER, &["acme.io"], false, join_role),
            },
            at(4),
        )],
    )
}

fn link(user: UserId, sub: &str) -> OrgCommand {
    OrgCommand::LinkSsoIdentity {
        user_id: user,
        subject: subject(sub),
    }
}

#[test]
fn an_owner_connects_a_provider_then_changes_it_and_the_same_settings_record_nothing() {
    let configured = given(members())
        .when(
            AS_OWNER,
            OrgCommand::ConfigureSso {
                connection: sso(ISSUER, &["acme.io"], false, None),
            },
            at(4),
        )
        .then();
    let changed = given(connected(None))
        .when(
            AS_OWNER,
            OrgCommand::ConfigureSso {
                connection: sso(
                    ISSUER,
                    &["acme.io", "acme.co.uk"],
                    true,
                    Some(single(SingleRole::Standard)),
                ),
            },
            at(5),
        )
        .then();
    let same = given(connected(None))
        .when(
            AS_OWNER,
            OrgCommand::ConfigureSso {
                connection: sso(ISSUER, &["acme.io"], false, None),
            },
            at(5),
        )
        .then();
    assert!(same.is_empty(), "the same connection again records nothing");
    assert_json_snapshot!((configured, changed));
}

#[test]
fn a_key_cannot_configure_single_sign_on_even_with_the_manage_scope() {
    let history = extend(
        members(),
        vec![(
            AS_OWNER,
            create_key(KEY, "Ops", &[Scope::Manage], None),
            at(4),
        )],
    );
    let refusal = given(history)
        .when(
            Actor::ApiKey(KEY),
            OrgCommand::ConfigureSso {
                connection: sso(ISSUER, &["acme.io"], false, None),
            },
            at(5),
        )
        .then_refuses(DomainError::SsoManagedByPeopleOnly);
    assert_snapshot!(refusal);
}

#[test]
fn a_member_who_is_not_an_owner_cannot_configure_or_remove_it() {
    let configure = given(connected(None))
        .when(
            Actor::User(ANN),
            OrgCommand::ConfigureSso {
                connection: sso(ISSUER, &["acme.io"], true, None),
            },
            at(5),
        )
        .then_refuses(DomainError::NotAnOwner);
    let remove = given(connected(None))
        .when(Actor::User(ANN), OrgCommand::RemoveSso, at(5))
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(format!("{configure}\n{remove}"));
}

#[test]
fn nobody_joins_as_an_owner_by_signing_in() {
    let refusal = given(members())
        .when(
            AS_OWNER,
            OrgCommand::ConfigureSso {
                connection: sso(ISSUER, &["acme.io"], false, Some(single(SingleRole::Owner))),
            },
            at(4),
        )
        .then_refuses(DomainError::SsoJoinAsOwner);
    assert_snapshot!(refusal);
}

#[test]
fn a_connection_answers_for_at_least_one_domain() {
    let refusal = given(members())
        .when(
            AS_OWNER,
            OrgCommand::ConfigureSso {
                connection: sso(ISSUER, &[], false, None),
            },
            at(4),
        )
        .then_refuses(DomainError::SsoDomainCount {
            max: SsoConnection::MAX_DOMAINS,
        });
    assert_snapshot!(refusal);
}

#[test]
fn public_mailbox_domains_and_non_domains_are_refused_but_the_log_keeps_what_it_holds() {
    assert_eq!(
        EmailDomain::parse("Gmail.com"),
        Err(TextError::PublicMailDomain("gmail.com".into()))
    );
    assert_eq!(
        EmailDomain::parse("localhost"),
        Err(TextError::InvalidDomain("localhost".into()))
    );
    assert_eq!(
        EmailDomain::parse("@Acme.IO").map(|d| d.to_string()),
        Ok("acme.io".into())
    );
    // A domain recorded before it was listed as public still reads back.
    let stored: EmailDomain = serde_json::from_str("\"gmail.com\"").expect("reads back");
    assert_eq!(stored.as_str(), "gmail.com");
    assert!(EmailDomain::parse("acme.io")
        .expect("valid")
        .holds(&email("Ann@ACME.io")));
    assert!(!EmailDomain::parse("acme.io")
        .expect("valid")
        .holds(&email("ann@eu.acme.io")));
}

#[test]
fn a_member_links_their_identity_once_and_linking_it_again_records_nothing() {
    let events = given(connected(None))
        .when(Actor::User(ANN), link(ANN, "00u-ann"), at(5))
        .then();
    let again = given(extend(
        connected(None),
        vec![(Actor::User(ANN), link(ANN, "00u-ann"), at(5))],
    ))
    .when(Actor::User(ANN), link(ANN, "00u-ann"), at(6))
    .then();
    assert!(again.is_empty());
    assert_json_snapshot!(events);
}

#[test]
fn an_identity_linked_to_one_member_cannot_be_linked_to_another_nor_a_member_to_two() {
    let history = extend(
        connected(None),
        vec![(Actor::User(ANN), link(ANN, "00u-ann"), at(5))],
    );
    let taken = given(history.clone())
        .when(AS_OWNER, link(OWNER, "00u-ann"), at(6))
        .then_refuses(DomainError::SsoSubjectLinkedElsewhere);
    let second = given(history)
        .when(Actor::User(ANN), link(ANN, "00u-other"), at(6))
        .then_refuses(DomainError::SsoPersonLinkedElsewhere);
    assert_snapshot!(format!("{taken}\n{second}"));
}

#[test]
fn only_the_person_links_their_identity_and_only_at_a_connected_domain() {
    let other = given(connected(None))
        .when(AS_OWNER, link(ANN, "00u-ann"), at(5))
        .then_refuses(DomainError::NotThePerson);
    let history = extend(
        connected(None),
        vec![
            (
                AS_OWNER,
                invite(
                    INV_BOB,
                    "bob@elsewhere.org",
                    "Bob",
                    single(SingleRole::Standard),
                    3,
                ),
                at(5),
            ),
            (Actor::System, accept(INV_BOB, 3, BOB, "Bob"), at(5)),
        ],
    );
    let outside = given(history)
        .when(Actor::User(BOB), link(BOB, "00u-bob"), at(6))
        .then_refuses(DomainError::SsoDomainNotConnected {
            email: "bob@elsewhere.org".into(),
        });
    let nothing = given(members())
        .when(Actor::User(ANN), link(ANN, "00u-ann"), at(5))
        .then_refuses(DomainError::NoSsoConnection);
    assert_snapshot!(format!("{other}\n{outside}\n{nothing}"));
}

#[test]
fn another_issuer_or_removal_starts_unlinked_and_a_removed_member_loses_the_link() {
    let linked = extend(
        connected(None),
        vec![(Actor::User(ANN), link(ANN, "00u-ann"), at(5))],
    );
    // The new provider's "00u-ann" may be anyone: the old link is gone.
    let moved = extend(
        linked.clone(),
        vec![(
            AS_OWNER,
            OrgCommand::ConfigureSso {
                connection: sso("https://acme.okta.com", &["acme.io"], false, None),
            },
            at(6),
        )],
    );
    given(moved)
        .when(AS_OWNER, link(OWNER, "00u-ann"), at(7))
        .then();
    let removed = extend(
        linked.clone(),
        vec![(AS_OWNER, OrgCommand::RemoveUser { user_id: ANN }, at(6))],
    );
    given(removed)
        .when(AS_OWNER, link(OWNER, "00u-ann"), at(7))
        .then();
    let disconnected = given(linked)
        .when(AS_OWNER, OrgCommand::RemoveSso, at(6))
        .then();
    assert_json_snapshot!(disconnected);
}

#[test]
fn joining_without_an_invitation_is_off_by_default() {
    let refusal = given(connected(None))
        .when(
            Actor::User(BOB),
            OrgCommand::JoinBySso {
                user_id: BOB,
                email: email("bob@acme.io"),
                full_name: name("Bob Roe"),
                subject: subject("00u-bob"),
            },
            at(5),
        )
        .then_refuses(DomainError::SsoJoinOff);
    assert_snapshot!(refusal);
}

#[test]
fn with_a_default_role_a_person_of_the_domain_joins_and_their_open_invitation_is_settled() {
    let history = extend(
        connected(Some(single(SingleRole::Standard))),
        vec![(
            AS_OWNER,
            invite(INV_BOB, "bob@acme.io", "Bob", single(SingleRole::Admin), 3),
            at(5),
        )],
    );
    let events = given(history)
        .when(
            Actor::User(BOB),
            OrgCommand::JoinBySso {
                user_id: BOB,
                email: email("bob@acme.io"),
                full_name: name("Bob Roe"),
                subject: subject("00u-bob"),
            },
            at(6),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn nobody_joins_from_another_domain_nor_twice() {
    let join = |who: UserId, addr: &str, sub: &str| OrgCommand::JoinBySso {
        user_id: who,
        email: email(addr),
        full_name: name("Someone"),
        subject: subject(sub),
    };
    let outside = given(connected(Some(single(SingleRole::Standard))))
        .when(
            Actor::User(BOB),
            join(BOB, "bob@elsewhere.org", "00u-bob"),
            at(5),
        )
        .then_refuses(DomainError::SsoDomainNotConnected {
            email: "bob@elsewhere.org".into(),
        });
    let member = given(connected(Some(single(SingleRole::Standard))))
        .when(Actor::User(ANN), join(ANN, "ann@acme.io", "00u-ann"), at(5))
        .then_refuses(DomainError::AlreadyMember {
            email: "ann@acme.io".into(),
            user_id: ANN,
        });
    assert_snapshot!(format!("{outside}\n{member}"));
}
