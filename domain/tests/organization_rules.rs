//! Every organization command and rule as Given events / When command / Then
//! events (snapshotted) or the refusal.

use crate::common::*;
use insta::{assert_json_snapshot, assert_snapshot};
use roster_domain::organization::*;
use roster_domain::*;

fn ann_invited_single() -> Vec<OrgEvent> {
    extend(
        single_org_with_owner(),
        vec![(
            AS_OWNER,
            invite(
                INV_ANN,
                "ann@example.com",
                "Ann Lee",
                single(SingleRole::Admin),
                2,
            ),
            at(2),
        )],
    )
}

fn ann_member_single() -> Vec<OrgEvent> {
    extend(
        ann_invited_single(),
        vec![(Actor::System, accept(INV_ANN, 2, ANN, "Ann Lee"), at(3))],
    )
}

// ---- CreateOrganization ----

#[test]
fn creating_a_single_account_organization_records_it() {
    let events = given(vec![])
        .when(Actor::System, create_single(), at(0))
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn creating_a_multi_account_organization_records_its_accounts() {
    let events = given(vec![])
        .when(Actor::System, create_multi(), at(0))
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn an_organization_cannot_be_created_twice() {
    let refusal = given(single_org_with_owner())
        .when(Actor::System, create_single(), at(5))
        .then_refuses(DomainError::OrganizationExists);
    assert_snapshot!(refusal);
}

#[test]
fn a_single_account_organization_takes_no_accounts() {
    let cmd = OrgCommand::CreateOrganization {
        org_id: ORG,
        name: display("Acme"),
        shape: OrgShape::Single,
        accounts: vec![(ACC_EU, display("Europe"))],
    };
    let refusal = given(vec![])
        .when(Actor::System, cmd, at(0))
        .then_refuses(DomainError::NotMultiAccount);
    assert_snapshot!(refusal);
}

#[test]
fn initial_accounts_need_distinct_names() {
    let cmd = OrgCommand::CreateOrganization {
        org_id: ORG,
        name: display("Acme"),
        shape: OrgShape::Multi,
        accounts: vec![(ACC_EU, display("Europe")), (ACC_US, display("EUROPE"))],
    };
    let refusal =
        given(vec![])
            .when(Actor::System, cmd, at(0))
            .then_refuses(DomainError::AccountNameTaken {
                name: "EUROPE".into(),
            });
    assert_snapshot!(refusal);
}

#[test]
fn commands_on_a_missing_organization_are_refused() {
    let refusal = given(vec![])
        .when(
            AS_OWNER,
            OrgCommand::CancelInvite {
                invitation_id: INV_ANN,
            },
            at(0),
        )
        .then_refuses(DomainError::OrganizationNotFound);
    assert_snapshot!(refusal);
}

// ---- AddAccount ----

#[test]
fn an_owner_adds_an_account_to_a_multi_account_organization() {
    let acc = AccountId::from_uuid(uuid::Uuid::from_u128(0x0302));
    let events = given(multi_org_with_owner())
        .when(
            AS_OWNER,
            OrgCommand::AddAccount {
                account_id: acc,
                name: display("Asia"),
            },
            at(5),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn accounts_cannot_be_added_to_a_single_account_organization() {
    let acc = AccountId::from_uuid(uuid::Uuid::from_u128(0x0302));
    let refusal = given(single_org_with_owner())
        .when(
            AS_OWNER,
            OrgCommand::AddAccount {
                account_id: acc,
                name: display("Asia"),
            },
            at(5),
        )
        .then_refuses(DomainError::NotMultiAccount);
    assert_snapshot!(refusal);
}

#[test]
fn account_names_are_unique_ignoring_case() {
    let acc = AccountId::from_uuid(uuid::Uuid::from_u128(0x0302));
    let refusal = given(multi_org_with_owner())
        .when(
            AS_OWNER,
            OrgCommand::AddAccount {
                account_id: acc,
                name: display("  europe "),
            },
            at(5),
        )
        .then_refuses(DomainError::AccountNameTaken {
            name: "europe".into(),
        });
    assert_snapshot!(refusal);
}

// ---- RenameAccount ----

fn rename(account_id: AccountId, to: &str) -> OrgCommand {
    OrgCommand::RenameAccount {
        account_id,
        name: display(to),
    }
}

#[test]
fn an_owner_renames_an_account() {
    let events = given(multi_org_with_owner())
        .when(AS_OWNER, rename(ACC_EU, "Europe & Africa"), at(5))
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn a_rename_may_change_only_the_case_of_the_accounts_own_name() {
    let events = given(multi_org_with_owner())
        .when(AS_OWNER, rename(ACC_EU, "EUROPE"), at(5))
        .then();
    assert_eq!(events.len(), 1, "{events:?}");
}

#[test]
fn renaming_to_the_same_name_records_nothing() {
    let events = given(multi_org_with_owner())
        .when(AS_OWNER, rename(ACC_EU, "Europe"), at(5))
        .then();
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn a_rename_cannot_take_another_accounts_name() {
    let refusal = given(multi_org_with_owner())
        .when(AS_OWNER, rename(ACC_EU, "united states"), at(5))
        .then_refuses(DomainError::AccountNameTaken {
            name: "united states".into(),
        });
    assert_snapshot!(refusal);
}

#[test]
fn an_unknown_account_cannot_be_renamed() {
    let other = AccountId::from_uuid(uuid::Uuid::from_u128(0x0399));
    let refusal = given(multi_org_with_owner())
        .when(AS_OWNER, rename(other, "Asia"), at(5))
        .then_refuses(DomainError::UnknownAccount(other));
    assert_snapshot!(refusal);
}

#[test]
fn only_owners_rename_accounts() {
    let refusal = given(multi_org_with_owner())
        .when(Actor::User(ANN), rename(ACC_EU, "Asia"), at(5))
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
}

#[test]
fn an_existing_account_id_is_refused() {
    let refusal = given(multi_org_with_owner())
        .when(
            AS_OWNER,
            OrgCommand::AddAccount {
                account_id: ACC_EU,
                name: display("Asia"),
            },
            at(5),
        )
        .then_refuses(DomainError::AccountExists(ACC_EU));
    assert_snapshot!(refusal);
}

// ---- InviteUser ----

#[test]
fn an_owner_invites_a_person_with_a_role_and_a_fifteen_minute_deadline() {
    let events = given(single_org_with_owner())
        .when(
            AS_OWNER,
            invite(
                INV_ANN,
                " Ann@Example.com ",
                "Ann Lee",
                single(SingleRole::Admin),
                2,
            ),
            at(2),
        )
        .then();
    let OrgEvent::UserInvited(e) = &events[0] else {
        panic!("expected UserInvited")
    };
    assert_eq!(e.expires_at - e.sent_at, chrono::Duration::minutes(15));
    assert_json_snapshot!(events);
}

#[test]
fn an_owner_invites_a_contributor_to_some_accounts() {
    let role = contributor(&[
        (ACC_EU, AccountRole::Admin),
        (ACC_US, AccountRole::Standard),
    ]);
    let events = given(multi_org_with_owner())
        .when(
            AS_OWNER,
            invite(INV_ANN, "ann@example.com", "Ann Lee", role, 2),
            at(2),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn only_owners_may_invite() {
    let refusal = given(ann_member_single())
        .when(
            Actor::User(ANN),
            invite(
                INV_BOB,
                "bob@example.com",
                "Bob",
                single(SingleRole::Standard),
                3,
            ),
            at(5),
        )
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
}

#[test]
fn strangers_may_not_invite() {
    let refusal = given(single_org_with_owner())
        .when(
            Actor::User(BOB),
            invite(
                INV_BOB,
                "bob@example.com",
                "Bob",
                single(SingleRole::Standard),
                3,
            ),
            at(5),
        )
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
}

#[test]
fn a_member_cannot_be_invited_again() {
    let refusal = given(ann_member_single())
        .when(
            AS_OWNER,
            invite(
                INV_BOB,
                "ANN@example.com",
                "Ann again",
                single(SingleRole::Standard),
                3,
            ),
            at(5),
        )
        .then_refuses(DomainError::AlreadyMember {
            email: "ann@example.com".into(),
            user_id: ANN,
        });
    assert_snapshot!(refusal);
}

#[test]
fn a_second_invitation_for_a_pending_email_names_the_first() {
    let refusal = given(ann_invited_single())
        .when(
            AS_OWNER,
            invite(
                INV_BOB,
                "ann@EXAMPLE.com",
                "Ann again",
                single(SingleRole::Standard),
                3,
            ),
            at(5),
        )
        .then_refuses(DomainError::AlreadyInvited {
            email: "ann@example.com".into(),
            invitation_id: INV_ANN,
            status: InvitationStatus::Pending,
            role: single(SingleRole::Admin),
        });
    assert_snapshot!(refusal);
}

#[test]
fn an_expired_invitation_still_blocks_a_new_one_so_the_owner_resends_it() {
    let history = extend(
        ann_invited_single(),
        vec![(
            Actor::System,
            OrgCommand::ExpireInvite {
                invitation_id: INV_ANN,
            },
            at(17),
        )],
    );
    let refusal = given(history)
        .when(
            AS_OWNER,
            invite(
                INV_BOB,
                "ann@example.com",
                "Ann",
                single(SingleRole::Standard),
                3,
            ),
            at(20),
        )
        .then_refuses(DomainError::AlreadyInvited {
            email: "ann@example.com".into(),
            invitation_id: INV_ANN,
            status: InvitationStatus::Expired,
            role: single(SingleRole::Admin),
        });
    assert_snapshot!(refusal);
}

#[test]
fn a_cancelled_invitation_does_not_block_a_new_one() {
    let history = extend(
        ann_invited_single(),
        vec![(
            AS_OWNER,
            OrgCommand::CancelInvite {
                invitation_id: INV_ANN,
            },
            at(3),
        )],
    );
    let events = given(history)
        .when(
            AS_OWNER,
            invite(
                INV_BOB,
                "ann@example.com",
                "Ann Lee",
                single(SingleRole::Standard),
                3,
            ),
            at(4),
        )
        .then();
    assert_eq!(events.len(), 1);
    assert_json_snapshot!(events);
}

#[test]
fn a_multi_account_role_does_not_fit_a_single_account_organization() {
    let refusal = given(single_org_with_owner())
        .when(
            AS_OWNER,
            invite(INV_ANN, "ann@example.com", "Ann", multi_owner(), 2),
            at(2),
        )
        .then_refuses(DomainError::RoleShapeMismatch {
            org: OrgShape::Single,
            role: OrgShape::Multi,
        });
    assert_snapshot!(refusal);
}

#[test]
fn account_roles_must_name_existing_accounts() {
    let ghost = AccountId::from_uuid(uuid::Uuid::from_u128(0x0399));
    let refusal = given(multi_org_with_owner())
        .when(
            AS_OWNER,
            invite(
                INV_ANN,
                "ann@example.com",
                "Ann",
                contributor(&[(ghost, AccountRole::Admin)]),
                2,
            ),
            at(2),
        )
        .then_refuses(DomainError::UnknownAccount(ghost));
    assert_snapshot!(refusal);
}

// ---- ResendInvite ----

#[test]
fn resending_rotates_the_token_and_restarts_the_clock() {
    let events = given(ann_invited_single())
        .when(AS_OWNER, resend(INV_ANN, 3), at(10))
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn an_expired_invitation_can_be_resent() {
    let history = extend(
        ann_invited_single(),
        vec![(
            Actor::System,
            OrgCommand::ExpireInvite {
                invitation_id: INV_ANN,
            },
            at(17),
        )],
    );
    let events = given(history)
        .when(AS_OWNER, resend(INV_ANN, 3), at(30))
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn an_accepted_invitation_cannot_be_resent() {
    let refusal = given(ann_member_single())
        .when(AS_OWNER, resend(INV_ANN, 3), at(5))
        .then_refuses(DomainError::InvitationClosed {
            status: InvitationStatus::Accepted,
        });
    assert_snapshot!(refusal);
}

#[test]
fn an_unknown_invitation_cannot_be_resent() {
    let refusal = given(single_org_with_owner())
        .when(AS_OWNER, resend(INV_BOB, 3), at(5))
        .then_refuses(DomainError::InvitationNotFound);
    assert_snapshot!(refusal);
}

// ---- ChangeInvitation ----

#[test]
fn an_owner_corrects_a_pending_invitations_role_and_a_fresh_link_replaces_the_old() {
    let events = given(ann_invited_single())
        .when(
            AS_OWNER,
            change_invitation(INV_ANN, single(SingleRole::Standard), 3),
            at(4),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn a_corrected_invitation_makes_a_member_with_the_new_role_through_the_new_link_only() {
    let history = extend(
        ann_invited_single(),
        vec![(
            AS_OWNER,
            change_invitation(INV_ANN, single(SingleRole::Standard), 3),
            at(4),
        )],
    );
    let refusal = given(history.clone())
        .when(Actor::System, accept(INV_ANN, 2, ANN, "Ann Lee"), at(5))
        .then_refuses(DomainError::InvalidToken);
    assert_snapshot!(refusal);
    let events = given(history)
        .when(Actor::System, accept(INV_ANN, 3, ANN, "Ann Lee"), at(5))
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn an_expired_invitation_can_be_corrected_and_is_sent_again() {
    let history = extend(
        ann_invited_single(),
        vec![(
            Actor::System,
            OrgCommand::ExpireInvite {
                invitation_id: INV_ANN,
            },
            at(17),
        )],
    );
    let events = given(history)
        .when(
            AS_OWNER,
            change_invitation(INV_ANN, single(SingleRole::Owner), 3),
            at(30),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn correcting_an_invitation_to_the_role_it_offers_records_nothing() {
    let events = given(ann_invited_single())
        .when(
            AS_OWNER,
            change_invitation(INV_ANN, single(SingleRole::Admin), 3),
            at(4),
        )
        .then();
    assert!(events.is_empty(), "nothing changes: {events:?}");
}

#[test]
fn an_accepted_invitation_cannot_be_corrected() {
    let refusal = given(ann_member_single())
        .when(
            AS_OWNER,
            change_invitation(INV_ANN, single(SingleRole::Standard), 3),
            at(5),
        )
        .then_refuses(DomainError::InvitationClosed {
            status: InvitationStatus::Accepted,
        });
    assert_snapshot!(refusal);
}

#[test]
fn only_owners_may_correct_an_invitation() {
    let history = extend(
        ann_member_single(),
        vec![(
            AS_OWNER,
            invite(
                INV_BOB,
                "bob@example.com",
                "Bob",
                single(SingleRole::Standard),
                4,
            ),
            at(4),
        )],
    );
    let refusal = given(history)
        .when(
            Actor::User(ANN),
            change_invitation(INV_BOB, single(SingleRole::Owner), 5),
            at(5),
        )
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
}

#[test]
fn a_corrected_role_must_fit_the_organization() {
    let refusal = given(ann_invited_single())
        .when(
            AS_OWNER,
            change_invitation(INV_ANN, multi_owner(), 3),
            at(4),
        )
        .then_refuses(DomainError::RoleShapeMismatch {
            org: OrgShape::Single,
            role: OrgShape::Multi,
        });
    assert_snapshot!(refusal);
}

// ---- CancelInvite ----

#[test]
fn an_owner_cancels_a_pending_invitation() {
    let events = given(ann_invited_single())
        .when(
            AS_OWNER,
            OrgCommand::CancelInvite {
                invitation_id: INV_ANN,
            },
            at(4),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn a_cancelled_invitation_cannot_be_cancelled_again() {
    let history = extend(
        ann_invited_single(),
        vec![(
            AS_OWNER,
            OrgCommand::CancelInvite {
                invitation_id: INV_ANN,
            },
            at(4),
        )],
    );
    let refusal = given(history)
        .when(
            AS_OWNER,
            OrgCommand::CancelInvite {
                invitation_id: INV_ANN,
            },
            at(5),
        )
        .then_refuses(DomainError::InvitationClosed {
            status: InvitationStatus::Cancelled,
        });
    assert_snapshot!(refusal);
}

#[test]
fn only_owners_may_cancel() {
    let history = extend(
        ann_member_single(),
        vec![(
            AS_OWNER,
            invite(
                INV_BOB,
                "bob@example.com",
                "Bob",
                single(SingleRole::Standard),
                3,
            ),
            at(4),
        )],
    );
    let refusal = given(history)
        .when(
            Actor::User(ANN),
            OrgCommand::CancelInvite {
                invitation_id: INV_BOB,
            },
            at(5),
        )
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
}

// ---- AcceptInvite ----

#[test]
fn accepting_with_the_current_token_before_the_deadline_makes_a_member() {
    let events = given(ann_invited_single())
        .when(Actor::System, accept(INV_ANN, 2, ANN, "Ann B. Lee"), at(16))
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn a_wrong_token_is_refused_without_saying_more() {
    let refusal = given(ann_invited_single())
        .when(Actor::System, accept(INV_ANN, 9, ANN, "Ann"), at(3))
        .then_refuses(DomainError::InvalidToken);
    assert_snapshot!(refusal);
}

#[test]
fn a_link_superseded_by_a_resend_no_longer_works() {
    let history = extend(
        ann_invited_single(),
        vec![(AS_OWNER, resend(INV_ANN, 3), at(5))],
    );
    let scenario = given(history);
    let refusal = scenario
        .when(Actor::System, accept(INV_ANN, 2, ANN, "Ann"), at(6))
        .then_refuses(DomainError::InvalidToken);
    assert_snapshot!(refusal);
    let events = scenario
        .when(Actor::System, accept(INV_ANN, 3, ANN, "Ann"), at(6))
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn accept_checks_the_deadline_itself_even_before_expiry_is_recorded() {
    let scenario = given(ann_invited_single()); // sent at minute 2, deadline minute 17
    let just_before = at_seconds(17 * 60 - 1);
    let events = scenario
        .when(Actor::System, accept(INV_ANN, 2, ANN, "Ann"), just_before)
        .then();
    assert_json_snapshot!(events);
    let refusal = scenario
        .when(Actor::System, accept(INV_ANN, 2, ANN, "Ann"), at(17))
        .then_refuses(DomainError::InvitationHasExpired {
            expires_at: t0() + chrono::Duration::minutes(17),
        });
    assert_snapshot!(refusal);
}

#[test]
fn a_cancelled_invitation_cannot_be_accepted() {
    let history = extend(
        ann_invited_single(),
        vec![(
            AS_OWNER,
            OrgCommand::CancelInvite {
                invitation_id: INV_ANN,
            },
            at(4),
        )],
    );
    let refusal = given(history)
        .when(Actor::System, accept(INV_ANN, 2, ANN, "Ann"), at(5))
        .then_refuses(DomainError::InvitationWasCancelled);
    assert_snapshot!(refusal);
}

#[test]
fn an_invitation_can_be_used_once() {
    let refusal = given(ann_member_single())
        .when(Actor::System, accept(INV_ANN, 2, BOB, "Bob"), at(5))
        .then_refuses(DomainError::InvitationAlreadyAccepted);
    assert_snapshot!(refusal);
}

#[test]
fn an_existing_member_cannot_accept_a_second_invitation() {
    let history = extend(
        single_org_with_owner(),
        vec![(
            AS_OWNER,
            invite(
                INV_ANN,
                "ann2@example.com",
                "Ann",
                single(SingleRole::Admin),
                2,
            ),
            at(2),
        )],
    );
    let refusal = given(history)
        .when(Actor::System, accept(INV_ANN, 2, OWNER, "Olive"), at(3))
        .then_refuses(DomainError::AlreadyMember {
            email: "owner@acme.io".into(),
            user_id: OWNER,
        });
    assert_snapshot!(refusal);
}

// ---- ExpireInvite ----

#[test]
fn expiry_is_recorded_once_the_deadline_passes() {
    let events = given(ann_invited_single())
        .when(
            Actor::System,
            OrgCommand::ExpireInvite {
                invitation_id: INV_ANN,
            },
            at(17),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn expiry_before_the_deadline_is_a_no_op() {
    let events = given(ann_invited_single())
        .when(
            Actor::System,
            OrgCommand::ExpireInvite {
                invitation_id: INV_ANN,
            },
            at(16),
        )
        .then();
    assert!(events.is_empty());
    assert_json_snapshot!(events);
}

#[test]
fn expiry_after_a_resend_with_a_later_deadline_is_a_no_op() {
    let history = extend(
        ann_invited_single(),
        vec![(AS_OWNER, resend(INV_ANN, 3), at(10))],
    );
    let events = given(history)
        .when(
            Actor::System,
            OrgCommand::ExpireInvite {
                invitation_id: INV_ANN,
            },
            at(17),
        )
        .then();
    assert!(events.is_empty());
    assert_json_snapshot!(events);
}

#[test]
fn expiry_of_an_accepted_cancelled_or_expired_invitation_is_a_no_op() {
    let expire = || OrgCommand::ExpireInvite {
        invitation_id: INV_ANN,
    };
    let cancelled = extend(
        ann_invited_single(),
        vec![(
            AS_OWNER,
            OrgCommand::CancelInvite {
                invitation_id: INV_ANN,
            },
            at(3),
        )],
    );
    let expired = extend(
        ann_invited_single(),
        vec![(Actor::System, expire(), at(17))],
    );
    for history in [ann_member_single(), cancelled, expired] {
        assert_eq!(
            given(history).when(Actor::System, expire(), at(60)),
            Ok(vec![])
        );
    }
}

#[test]
fn expiring_an_unknown_invitation_is_refused() {
    let refusal = given(single_org_with_owner())
        .when(
            Actor::System,
            OrgCommand::ExpireInvite {
                invitation_id: INV_BOB,
            },
            at(60),
        )
        .then_refuses(DomainError::InvitationNotFound);
    assert_snapshot!(refusal);
}

// ---- ChangeRole ----

#[test]
fn an_owner_changes_a_members_role() {
    let events = given(ann_member_single())
        .when(
            AS_OWNER,
            OrgCommand::ChangeRole {
                user_id: ANN,
                role: single(SingleRole::Owner),
            },
            at(5),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn a_contributors_account_roles_change() {
    let history = extend(
        multi_org_with_owner(),
        vec![
            (
                AS_OWNER,
                invite(
                    INV_ANN,
                    "ann@example.com",
                    "Ann",
                    contributor(&[(ACC_EU, AccountRole::Standard)]),
                    2,
                ),
                at(2),
            ),
            (Actor::System, accept(INV_ANN, 2, ANN, "Ann"), at(3)),
        ],
    );
    let to = contributor(&[
        (ACC_EU, AccountRole::Admin),
        (ACC_US, AccountRole::Standard),
    ]);
    let events = given(history)
        .when(
            AS_OWNER,
            OrgCommand::ChangeRole {
                user_id: ANN,
                role: to,
            },
            at(5),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn the_last_owner_cannot_be_demoted() {
    let refusal = given(single_org_with_owner())
        .when(
            AS_OWNER,
            OrgCommand::ChangeRole {
                user_id: OWNER,
                role: single(SingleRole::Admin),
            },
            at(5),
        )
        .then_refuses(DomainError::LastOwner);
    assert_snapshot!(refusal);
}

#[test]
fn an_owner_can_step_down_once_another_owner_exists() {
    let history = extend(
        ann_member_single(),
        vec![(
            AS_OWNER,
            OrgCommand::ChangeRole {
                user_id: ANN,
                role: single(SingleRole::Owner),
            },
            at(5),
        )],
    );
    let events = given(history)
        .when(
            AS_OWNER,
            OrgCommand::ChangeRole {
                user_id: OWNER,
                role: single(SingleRole::Standard),
            },
            at(6),
        )
        .then();
    assert_eq!(events.len(), 1);
    assert_json_snapshot!(events);
}

#[test]
fn setting_the_role_a_member_already_has_records_nothing() {
    let events = given(ann_member_single())
        .when(
            AS_OWNER,
            OrgCommand::ChangeRole {
                user_id: ANN,
                role: single(SingleRole::Admin),
            },
            at(5),
        )
        .then();
    assert!(events.is_empty());
    assert_json_snapshot!(events);
}

#[test]
fn changing_the_role_of_a_non_member_is_refused() {
    let refusal = given(single_org_with_owner())
        .when(
            AS_OWNER,
            OrgCommand::ChangeRole {
                user_id: BOB,
                role: single(SingleRole::Admin),
            },
            at(5),
        )
        .then_refuses(DomainError::MemberNotFound);
    assert_snapshot!(refusal);
}

#[test]
fn a_new_role_must_fit_the_organization() {
    let refusal = given(ann_member_single())
        .when(
            AS_OWNER,
            OrgCommand::ChangeRole {
                user_id: ANN,
                role: multi_owner(),
            },
            at(5),
        )
        .then_refuses(DomainError::RoleShapeMismatch {
            org: OrgShape::Single,
            role: OrgShape::Multi,
        });
    assert_snapshot!(refusal);
}

#[test]
fn only_owners_may_change_roles() {
    let refusal = given(ann_member_single())
        .when(
            Actor::User(ANN),
            OrgCommand::ChangeRole {
                user_id: ANN,
                role: single(SingleRole::Owner),
            },
            at(5),
        )
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
}

// ---- RemoveUser ----

#[test]
fn an_owner_removes_a_member() {
    let events = given(ann_member_single())
        .when(AS_OWNER, OrgCommand::RemoveUser { user_id: ANN }, at(5))
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn the_last_owner_cannot_be_removed() {
    let refusal = given(ann_member_single())
        .when(AS_OWNER, OrgCommand::RemoveUser { user_id: OWNER }, at(5))
        .then_refuses(DomainError::LastOwner);
    assert_snapshot!(refusal);
}

#[test]
fn removing_a_non_member_is_refused() {
    let refusal = given(single_org_with_owner())
        .when(AS_OWNER, OrgCommand::RemoveUser { user_id: BOB }, at(5))
        .then_refuses(DomainError::MemberNotFound);
    assert_snapshot!(refusal);
}

#[test]
fn a_removed_member_can_be_invited_again() {
    let history = extend(
        ann_member_single(),
        vec![(AS_OWNER, OrgCommand::RemoveUser { user_id: ANN }, at(5))],
    );
    let events = given(history)
        .when(
            AS_OWNER,
            invite(
                INV_BOB,
                "ann@example.com",
                "Ann Lee",
                single(SingleRole::Standard),
                3,
            ),
            at(6),
        )
        .then();
    assert_eq!(events.len(), 1);
    assert_json_snapshot!(events);
}

// ---- Email outcomes ----

#[test]
fn the_email_worker_records_a_delivered_send() {
    let events = given(ann_invited_single())
        .when(
            Actor::System,
            OrgCommand::RecordEmailSent {
                invitation_id: INV_ANN,
                send_id: send(2),
                message_id: "<x@roster>".into(),
            },
            at(2),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn a_send_recorded_as_mailed_is_not_recorded_again() {
    let mailed = OrgCommand::RecordEmailSent {
        invitation_id: INV_ANN,
        send_id: send(2),
        message_id: "<x@roster>".into(),
    };
    let events = given(extend(
        ann_invited_single(),
        vec![(Actor::System, mailed.clone(), at(2))],
    ))
    .when(Actor::System, mailed, at(3))
    .then();
    assert!(events.is_empty(), "a second record of one send is a no-op");
    assert_json_snapshot!(events);
}

#[test]
fn an_email_outcome_for_a_foreign_send_is_refused() {
    let refusal = given(ann_invited_single())
        .when(
            Actor::System,
            OrgCommand::RecordEmailFailed {
                invitation_id: INV_ANN,
                send_id: send(9),
                reason: "550".into(),
                permanent: true,
            },
            at(2),
        )
        .then_refuses(DomainError::UnknownSend);
    assert_snapshot!(refusal);
}

// ---- An inviter's authority ----

/// Ann joins as a second owner and invites Bob as owner.
fn ann_co_owner_who_invited_bob() -> Vec<OrgEvent> {
    extend(
        single_org_with_owner(),
        vec![
            (
                AS_OWNER,
                invite(
                    INV_ANN,
                    "ann@example.com",
                    "Ann Lee",
                    single(SingleRole::Owner),
                    2,
                ),
                at(2),
            ),
            (Actor::System, accept(INV_ANN, 2, ANN, "Ann Lee"), at(3)),
            (
                Actor::User(ANN),
                invite(
                    INV_BOB,
                    "bob@example.com",
                    "Bob",
                    single(SingleRole::Owner),
                    3,
                ),
                at(4),
            ),
        ],
    )
}

#[test]
fn removing_an_owner_cancels_the_invitations_they_sent() {
    let events = given(ann_co_owner_who_invited_bob())
        .when(AS_OWNER, OrgCommand::RemoveUser { user_id: ANN }, at(5))
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn demoting_an_owner_cancels_the_invitations_they_sent() {
    let events = given(ann_co_owner_who_invited_bob())
        .when(
            AS_OWNER,
            OrgCommand::ChangeRole {
                user_id: ANN,
                role: single(SingleRole::Admin),
            },
            at(5),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn an_invitation_from_a_removed_owner_cannot_be_accepted() {
    let history = extend(
        ann_co_owner_who_invited_bob(),
        vec![(AS_OWNER, OrgCommand::RemoveUser { user_id: ANN }, at(5))],
    );
    let refusal = given(history)
        .when(Actor::System, accept(INV_BOB, 3, BOB, "Bob"), at(6))
        .then_refuses(DomainError::InvitationWasCancelled);
    assert_snapshot!(refusal);
}

#[test]
fn removing_a_member_who_is_not_an_owner_cancels_nothing_else() {
    let events = given(ann_member_single())
        .when(AS_OWNER, OrgCommand::RemoveUser { user_id: ANN }, at(5))
        .then();
    assert_eq!(events.len(), 1);
    assert_json_snapshot!(events);
}

// ---- LeaveOrganization ----

#[test]
fn a_member_leaves_on_their_own() {
    let events = given(ann_member_single())
        .when(
            Actor::User(ANN),
            OrgCommand::LeaveOrganization { user_id: ANN },
            at(5),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn the_last_owner_cannot_leave() {
    let refusal = given(ann_member_single())
        .when(
            AS_OWNER,
            OrgCommand::LeaveOrganization { user_id: OWNER },
            at(5),
        )
        .then_refuses(DomainError::LastOwner);
    assert_snapshot!(refusal);
}

#[test]
fn nobody_leaves_in_someone_elses_name() {
    let refusal = given(ann_member_single())
        .when(
            AS_OWNER,
            OrgCommand::LeaveOrganization { user_id: ANN },
            at(5),
        )
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
}

// ---- API keys ----

fn with_key(scopes: &[Scope], expires_at: Option<chrono::DateTime<chrono::Utc>>) -> Vec<OrgEvent> {
    extend(
        ann_member_single(),
        vec![(
            AS_OWNER,
            create_key(KEY, "HR sync", scopes, expires_at),
            at(4),
        )],
    )
}

const AS_KEY: Actor = Actor::ApiKey(KEY);

#[test]
fn an_owner_creates_an_api_key_with_scopes_and_an_expiry() {
    let events = given(ann_member_single())
        .when(
            AS_OWNER,
            create_key(
                KEY,
                "HR sync",
                &[Scope::Scim, Scope::Read],
                Some(at(60).now),
            ),
            at(4),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn a_manage_key_invites_in_its_own_name() {
    let events = given(with_key(&[Scope::Manage], None))
        .when(
            AS_KEY,
            invite(
                INV_BOB,
                "bob@example.com",
                "Bob",
                single(SingleRole::Standard),
                5,
            ),
            at(5),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn a_read_key_changes_nothing() {
    let refusal = given(with_key(&[Scope::Read], None))
        .when(
            AS_KEY,
            invite(
                INV_BOB,
                "bob@example.com",
                "Bob",
                single(SingleRole::Standard),
                5,
            ),
            at(5),
        )
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
}

#[test]
fn a_revoked_key_is_refused_from_the_next_command_on() {
    let history = extend(
        with_key(&[Scope::Manage], None),
        vec![(AS_OWNER, OrgCommand::RevokeApiKey { key_id: KEY }, at(5))],
    );
    let refusal = given(history)
        .when(AS_KEY, OrgCommand::RemoveUser { user_id: ANN }, at(6))
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
}

#[test]
fn an_expired_key_is_refused() {
    let refusal = given(with_key(&[Scope::Manage], Some(at(10).now)))
        .when(AS_KEY, OrgCommand::RemoveUser { user_id: ANN }, at(10))
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
    let events = given(with_key(&[Scope::Manage], Some(at(10).now)))
        .when(AS_KEY, OrgCommand::RemoveUser { user_id: ANN }, at(9))
        .then();
    assert_eq!(events.len(), 1, "it works until then: {events:?}");
}

#[test]
fn a_key_can_neither_create_nor_revoke_keys() {
    let refusal = given(with_key(&[Scope::Manage, Scope::Read, Scope::Scim], None))
        .when(
            AS_KEY,
            create_key(
                ApiKeyId::from_uuid(uuid::Uuid::from_u128(0x0701)),
                "Next",
                &[Scope::Manage],
                None,
            ),
            at(5),
        )
        .then_refuses(DomainError::KeysManagedByPeopleOnly);
    assert_snapshot!(refusal);
    let refusal = given(with_key(&[Scope::Manage], None))
        .when(AS_KEY, OrgCommand::RevokeApiKey { key_id: KEY }, at(5))
        .then_refuses(DomainError::KeysManagedByPeopleOnly);
    assert_snapshot!(refusal);
}

#[test]
fn only_owners_create_keys() {
    let refusal = given(ann_member_single())
        .when(
            Actor::User(ANN),
            create_key(KEY, "Mine", &[Scope::Read], None),
            at(5),
        )
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
}

#[test]
fn a_key_needs_a_scope_and_an_expiry_ahead() {
    let refusal = given(ann_member_single())
        .when(AS_OWNER, create_key(KEY, "Empty", &[], None), at(5))
        .then_refuses(DomainError::NoScopes);
    assert_snapshot!(refusal);
    let refusal = given(ann_member_single())
        .when(
            AS_OWNER,
            create_key(KEY, "Late", &[Scope::Read], Some(at(5).now)),
            at(5),
        )
        .then_refuses(DomainError::ExpiryNotInFuture);
    assert_snapshot!(refusal);
}

#[test]
fn working_keys_have_distinct_names_and_a_revoked_keys_name_is_free_again() {
    let other = ApiKeyId::from_uuid(uuid::Uuid::from_u128(0x0701));
    let refusal = given(with_key(&[Scope::Read], None))
        .when(
            AS_OWNER,
            create_key(other, "hr SYNC", &[Scope::Read], None),
            at(5),
        )
        .then_refuses(DomainError::ApiKeyNameTaken {
            name: "hr SYNC".into(),
        });
    assert_snapshot!(refusal);
    let history = extend(
        with_key(&[Scope::Read], None),
        vec![(AS_OWNER, OrgCommand::RevokeApiKey { key_id: KEY }, at(5))],
    );
    let events = given(history)
        .when(
            AS_OWNER,
            create_key(other, "HR sync", &[Scope::Read], None),
            at(6),
        )
        .then();
    assert_eq!(events.len(), 1);
}

#[test]
fn a_key_is_revoked_once_and_unknown_keys_are_named() {
    let history = extend(
        with_key(&[Scope::Read], None),
        vec![(AS_OWNER, OrgCommand::RevokeApiKey { key_id: KEY }, at(5))],
    );
    let refusal = given(history)
        .when(AS_OWNER, OrgCommand::RevokeApiKey { key_id: KEY }, at(6))
        .then_refuses(DomainError::ApiKeyAlreadyRevoked);
    assert_snapshot!(refusal);
    let refusal = given(ann_member_single())
        .when(AS_OWNER, OrgCommand::RevokeApiKey { key_id: KEY }, at(6))
        .then_refuses(DomainError::ApiKeyNotFound);
    assert_snapshot!(refusal);
}

#[test]
fn an_organization_holds_a_bounded_number_of_working_keys() {
    let creations = (0..MAX_WORKING_API_KEYS)
        .map(|n| {
            let id = ApiKeyId::from_uuid(uuid::Uuid::from_u128(0x1000 + n as u128));
            (
                AS_OWNER,
                create_key(id, &format!("Key {n}"), &[Scope::Read], None),
                at(4),
            )
        })
        .collect();
    let history = extend(ann_member_single(), creations);
    let refusal = given(history)
        .when(
            AS_OWNER,
            create_key(KEY, "One more", &[Scope::Read], None),
            at(5),
        )
        .then_refuses(DomainError::TooManyApiKeys {
            max: MAX_WORKING_API_KEYS,
        });
    assert_snapshot!(refusal);
}

// ---- Directory sync: provisioning, suspension ----

fn provision(user: UserId, addr: &str, name_: &str, role: Role) -> OrgCommand {
    OrgCommand::ProvisionMember {
        user_id: user,
        email: email(addr),
        full_name: name(name_),
        role,
        external_id: Some("00u1abc".into()),
    }
}

fn with_scim_key() -> Vec<OrgEvent> {
    extend(
        ann_member_single(),
        vec![(
            AS_OWNER,
            create_key(KEY, "Okta", &[Scope::Scim], None),
            at(4),
        )],
    )
}

#[test]
fn a_directory_makes_a_person_a_member_at_once() {
    let events = given(with_scim_key())
        .when(
            AS_KEY,
            provision(
                BOB,
                "bob@example.com",
                "Bob Roe",
                single(SingleRole::Standard),
            ),
            at(5),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn a_provisioned_person_replaces_their_open_invitation() {
    let history = extend(
        with_scim_key(),
        vec![(
            AS_OWNER,
            invite(
                INV_BOB,
                "bob@example.com",
                "Bob",
                single(SingleRole::Admin),
                5,
            ),
            at(5),
        )],
    );
    let events = given(history)
        .when(
            AS_KEY,
            provision(
                BOB,
                "BOB@example.com",
                "Bob Roe",
                single(SingleRole::Standard),
            ),
            at(6),
        )
        .then();
    assert_json_snapshot!(events);
}

#[test]
fn a_member_is_not_provisioned_twice() {
    let refusal = given(with_scim_key())
        .when(
            AS_KEY,
            provision(BOB, "ann@example.com", "Ann", single(SingleRole::Standard)),
            at(5),
        )
        .then_refuses(DomainError::AlreadyMember {
            email: "ann@example.com".into(),
            user_id: ANN,
        });
    assert_snapshot!(refusal);
}

#[test]
fn a_suspended_member_keeps_their_place_without_access_until_restored() {
    let suspended = extend(
        with_scim_key(),
        vec![(AS_KEY, OrgCommand::SuspendMember { user_id: ANN }, at(5))],
    );
    let events = given(with_scim_key())
        .when(AS_KEY, OrgCommand::SuspendMember { user_id: ANN }, at(5))
        .then();
    assert_json_snapshot!(events);
    let again = given(suspended.clone())
        .when(AS_KEY, OrgCommand::SuspendMember { user_id: ANN }, at(6))
        .then();
    assert!(again.is_empty(), "suspending twice records nothing");
    let refusal = given(suspended.clone())
        .when(
            AS_KEY,
            OrgCommand::ChangeRole {
                user_id: ANN,
                role: single(SingleRole::Owner),
            },
            at(6),
        )
        .then_refuses(DomainError::MemberIsSuspended);
    assert_snapshot!(refusal);
    let restored = given(suspended)
        .when(AS_KEY, OrgCommand::RestoreMember { user_id: ANN }, at(7))
        .then();
    assert_json_snapshot!(restored);
}

#[test]
fn a_suspended_owner_has_no_owner_rights() {
    let history = extend(
        ann_member_single(),
        vec![
            (
                AS_OWNER,
                OrgCommand::ChangeRole {
                    user_id: ANN,
                    role: single(SingleRole::Owner),
                },
                at(4),
            ),
            (AS_OWNER, OrgCommand::SuspendMember { user_id: ANN }, at(5)),
        ],
    );
    let refusal = given(history.clone())
        .when(
            Actor::User(ANN),
            invite(
                INV_BOB,
                "bob@example.com",
                "Bob",
                single(SingleRole::Owner),
                5,
            ),
            at(6),
        )
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
    // The one owner still active is the last one.
    let refusal = given(history)
        .when(AS_OWNER, OrgCommand::RemoveUser { user_id: OWNER }, at(6))
        .then_refuses(DomainError::LastOwner);
    assert_snapshot!(refusal);
}

#[test]
fn the_directory_cannot_suspend_the_last_owner() {
    let refusal = given(with_scim_key())
        .when(AS_KEY, OrgCommand::SuspendMember { user_id: OWNER }, at(5))
        .then_refuses(DomainError::LastOwner);
    assert_snapshot!(refusal);
}

#[test]
fn a_read_key_provisions_nobody() {
    let history = extend(
        ann_member_single(),
        vec![(
            AS_OWNER,
            create_key(KEY, "Dash", &[Scope::Read], None),
            at(4),
        )],
    );
    let refusal = given(history)
        .when(
            AS_KEY,
            provision(BOB, "bob@example.com", "Bob", single(SingleRole::Standard)),
            at(5),
        )
        .then_refuses(DomainError::NotAnOwner);
    assert_snapshot!(refusal);
}

#[test]
fn a_directory_renames_a_member_and_sets_its_id_for_them() {
    let events = given(with_scim_key())
        .when(
            AS_KEY,
            OrgCommand::ChangeMemberDetails {
                user_id: ANN,
                full_name: name("Ann Lee-Smith"),
                external_id: Some("00u1ann".into()),
            },
            at(5),
        )
        .then();
    assert_json_snapshot!(events);
    let unchanged = given(with_scim_key())
        .when(
            AS_KEY,
            OrgCommand::ChangeMemberDetails {
                user_id: ANN,
                full_name: name("Ann Lee"),
                external_id: None,
            },
            at(5),
        )
        .then();
    assert!(unchanged.is_empty(), "nothing changed: {unchanged:?}");
}
