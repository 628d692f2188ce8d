//! The stored JSON of every event type is pinned: an accidental change of a stored
//! shape fails here. Old shapes must keep loading through upcasters.

use crate::common::*;
use insta::assert_json_snapshot;
use roster_domain::organization::*;
use roster_domain::user::UserEvent;
use roster_domain::*;
use serde_json::{json, Value};

fn every_org_event() -> Vec<OrgEvent> {
    let mut history = extend(
        multi_org_with_owner(),
        vec![
            (
                AS_OWNER,
                OrgCommand::AddAccount {
                    account_id: AccountId::from_uuid(uuid::Uuid::from_u128(0x0302)),
                    name: display("Asia"),
                },
                at(2),
            ),
            (
                AS_OWNER,
                OrgCommand::RenameAccount {
                    account_id: AccountId::from_uuid(uuid::Uuid::from_u128(0x0302)),
                    name: display("Asia Pacific"),
                },
                at(2),
            ),
            (
                AS_OWNER,
                invite(
                    INV_ANN,
                    "ann@example.com",
                    "Ann Lee",
                    contributor(&[(ACC_EU, AccountRole::Standard)]),
                    2,
                ),
                at(2),
            ),
            (
                Actor::System,
                OrgCommand::RecordEmailSent {
                    invitation_id: INV_ANN,
                    send_id: send(2),
                    message_id: "<inv-2@roster>".into(),
                },
                at(2),
            ),
            (AS_OWNER, resend(INV_ANN, 3), at(5)),
            (
                Actor::System,
                OrgCommand::RecordEmailFailed {
                    invitation_id: INV_ANN,
                    send_id: send(3),
                    reason: "450 mailbox busy".into(),
                    permanent: false,
                },
                at(5),
            ),
            (
                AS_OWNER,
                change_invitation(INV_ANN, contributor(&[(ACC_EU, AccountRole::Admin)]), 6),
                at(5),
            ),
            (
                Actor::System,
                OrgCommand::ExpireInvite {
                    invitation_id: INV_ANN,
                },
                at(20),
            ),
            (AS_OWNER, resend(INV_ANN, 4), at(21)),
            (Actor::System, accept(INV_ANN, 4, ANN, "Ann Lee"), at(22)),
            (
                AS_OWNER,
                OrgCommand::ChangeRole {
                    user_id: ANN,
                    role: multi_owner(),
                },
                at(23),
            ),
            (AS_OWNER, OrgCommand::RemoveUser { user_id: ANN }, at(24)),
            (
                AS_OWNER,
                create_key(
                    KEY,
                    "HR sync",
                    &[Scope::Scim, Scope::Read],
                    Some(at(90).now),
                ),
                at(24),
            ),
            (
                AS_OWNER,
                OrgCommand::ProvisionMember {
                    user_id: BOB,
                    email: email("bob@acme.io"),
                    full_name: name("Bob Roe"),
                    role: multi_owner(),
                    external_id: Some("00u1abc".into()),
                },
                at(24),
            ),
            (
                AS_OWNER,
                OrgCommand::ChangeMemberDetails {
                    user_id: BOB,
                    full_name: name("Bob Roe-Hill"),
                    external_id: Some("00u1bob".into()),
                },
                at(24),
            ),
            (AS_OWNER, OrgCommand::SuspendMember { user_id: BOB }, at(24)),
            (AS_OWNER, OrgCommand::RestoreMember { user_id: BOB }, at(24)),
            (AS_OWNER, OrgCommand::RemoveUser { user_id: BOB }, at(24)),
            (AS_OWNER, OrgCommand::RevokeApiKey { key_id: KEY }, at(24)),
            (
                AS_OWNER,
                OrgCommand::ConfigureSso {
                    connection: sso("https://login.acme.io", &["acme.io"], false, None),
                },
                at(24),
            ),
            (
                AS_OWNER,
                OrgCommand::ConfigureSso {
                    connection: sso(
                        "https://login.acme.io",
                        &["acme.io", "acme.co.uk"],
                        true,
                        Some(contributor(&[(ACC_EU, AccountRole::Standard)])),
                    ),
                },
                at(24),
            ),
            (
                AS_OWNER,
                OrgCommand::LinkSsoIdentity {
                    user_id: OWNER,
                    subject: subject("00u-owner"),
                },
                at(24),
            ),
            (
                Actor::User(BOB),
                OrgCommand::JoinBySso {
                    user_id: BOB,
                    email: email("bob@acme.co.uk"),
                    full_name: name("Bob Roe"),
                    subject: subject("00u-bob"),
                },
                at(24),
            ),
            (AS_OWNER, OrgCommand::RemoveSso, at(24)),
            (
                AS_OWNER,
                invite(INV_BOB, "bob@example.com", "Bob", multi_owner(), 5),
                at(25),
            ),
            (
                AS_OWNER,
                OrgCommand::CancelInvite {
                    invitation_id: INV_BOB,
                },
                at(26),
            ),
        ],
    );
    history.dedup_by(|a, b| a.event_type() == b.event_type());
    history
}

fn stored(event: &OrgEvent) -> Value {
    let (event_type, version, payload) = encode(event).expect("events encode");
    json!({ "event_type": event_type, "schema_version": version, "payload": payload })
}

#[test]
fn every_organization_event_type_has_a_pinned_stored_shape() {
    let events = every_org_event();
    let mut types: Vec<&str> = events.iter().map(OrgEvent::event_type).collect();
    types.sort_unstable();
    types.dedup();
    assert_eq!(
        types.len(),
        24,
        "the catalogue must cover every event type: {types:?}"
    );
    let stored: Vec<Value> = events.iter().map(stored).collect();
    assert_json_snapshot!(stored);
}

#[test]
fn every_user_event_type_has_a_pinned_stored_shape() {
    let events = vec![
        UserEvent::UserRegistered {
            user_id: ANN,
            email: email("ann@example.com"),
            full_name: name("Ann Lee"),
            registered_at: t0(),
        },
        UserEvent::PasswordResetRequested {
            user_id: ANN,
            email: email("ann@example.com"),
            reset_id: uuid::Uuid::from_u128(0x0600),
            requested_at: t0(),
            expires_at: t0() + chrono::Duration::minutes(30),
        },
        UserEvent::PasswordChanged {
            user_id: ANN,
            changed_at: t0(),
        },
    ];
    let stored: Vec<Value> = events
        .iter()
        .map(|e| {
            let (t, v, p) = encode(e).expect("events encode");
            json!({ "event_type": t, "schema_version": v, "payload": p })
        })
        .collect();
    assert_json_snapshot!(stored);
    for e in &events {
        let (t, v, p) = encode(e).expect("events encode");
        assert_eq!(&decode::<UserEvent>(t, v, &p).expect("decode"), e);
    }
}

#[test]
fn every_organization_event_decodes_to_itself() {
    for event in every_org_event() {
        let (t, v, p) = encode(&event).expect("events encode");
        assert_eq!(decode::<OrgEvent>(t, v, &p).expect("decode"), event);
        // From the stored text too, as a rebuild reads it.
        let text = p.to_string();
        assert_eq!(decode_text::<OrgEvent>(t, v, &text).expect("decode"), event);
        assert!(decode_text::<OrgEvent>(t, v, &format!("{text} trailing")).is_err());
    }
}

#[test]
fn a_stored_v1_user_invited_without_full_name_still_loads() {
    let v1 = json!({
        "invitation_id": "00000000-0000-0000-0000-000000000401",
        "send_id": "00000000-0000-0000-0000-000000000502",
        "email": "ann.lee@example.com",
        "role": { "shape": "single", "role": "standard" },
        "invited_by": { "kind": "system" },
        "token_digest": "02".repeat(32),
        "sent_at": "2026-01-05T09:02:00Z",
        "expires_at": "2026-01-05T09:17:00Z"
    });
    let event = decode::<OrgEvent>("UserInvited", 1, &v1).expect("v1 loads");
    assert_eq!(
        decode_text::<OrgEvent>("UserInvited", 1, &v1.to_string()).expect("v1 loads from text"),
        event,
        "a rebuild's read upcasts the same way"
    );
    let OrgEvent::UserInvited(invited) = event else {
        panic!("expected UserInvited")
    };
    assert_eq!(invited.full_name.as_str(), "ann.lee");
    assert_eq!(invited.email.as_str(), "ann.lee@example.com");
}

#[test]
fn unknown_types_newer_versions_and_bad_payloads_are_typed_errors() {
    assert_eq!(
        decode::<OrgEvent>("Teleported", 1, &json!({})),
        Err(DecodeError::UnknownType("Teleported".into()))
    );
    assert!(matches!(
        decode::<OrgEvent>("UserInvited", 3, &json!({})),
        Err(DecodeError::UnsupportedVersion { version: 3, .. })
    ));
    assert!(matches!(
        decode::<OrgEvent>("InvitationExpired", 1, &json!({ "invitation_id": "nope" })),
        Err(DecodeError::Malformed { .. })
    ));
    assert!(matches!(
        decode::<OrgEvent>("InvitationExpired", 1, &json!([1])),
        Err(DecodeError::Malformed { .. })
    ));
}
