//! Stored events are read back from a database that an operator, a restore or a
//! bug may have touched: decoding any payload under any type and version is a
//! typed error or an event, never a panic.

use proptest::prelude::*;
use roster_domain::decode;
use roster_domain::organization::OrgEvent;
use roster_domain::user::UserEvent;
use serde_json::{Map, Value};

const TYPES: &[&str] = &[
    "OrganizationCreated",
    "AccountAdded",
    "AccountRenamed",
    "InvitationChanged",
    "ApiKeyCreated",
    "ApiKeyRevoked",
    "MemberProvisioned",
    "MemberSuspended",
    "MemberDetailsChanged",
    "MemberRestored",
    "UserInvited",
    "InvitationResent",
    "InvitationCancelled",
    "InvitationExpired",
    "InvitationAccepted",
    "RoleChanged",
    "MemberRemoved",
    "InvitationEmailSent",
    "InvitationEmailFailed",
    "UserRegistered",
    "PasswordResetRequested",
    "PasswordChanged",
    "",
    "userinvited",
    "UserInvited\u{0}",
];

/// Field names the stored shapes use, so generated objects reach the fields'
/// own decoding rather than failing on the first missing key.
const FIELDS: &[&str] = &[
    "accepted_at",
    "account_id",
    "accounts",
    "added_at",
    "added_by",
    "cancelled_at",
    "cancelled_by",
    "changed_at",
    "changed_by",
    "created_at",
    "created_by",
    "email",
    "expired_at",
    "expires_at",
    "failed_at",
    "from",
    "full_name",
    "id",
    "invitation_id",
    "invited_by",
    "kind",
    "message_id",
    "name",
    "org_id",
    "org_role",
    "permanent",
    "reason",
    "removed_at",
    "removed_by",
    "resent_by",
    "role",
    "send_id",
    "sent_at",
    "shape",
    "to",
    "token_digest",
    "user_id",
    "type",
    "password_hash",
    "reset_id",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,40}".prop_map(Value::String),
        // Values that look right to one field and wrong to the next.
        Just(Value::String("0190d3c0-0000-7000-8000-000000000000".into())),
        Just(Value::String("2026-01-05T09:15:00Z".into())),
        Just(Value::String("owner@acme.io".into())),
        Just(Value::String("single".into())),
        Just(Value::String("multi".into())),
        Just(Value::String("owner".into())),
        Just(Value::String("contributor".into())),
        Just(Value::String("user".into())),
        Just(Value::String("system".into())),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..10).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn shaped_object() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(FIELDS), json()), 0..14).prop_map(|pairs| {
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<Map<_, _>>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_payload_under_any_type_and_version_decodes_or_is_refused_without_panic(
        event_type in prop::sample::select(TYPES),
        version in 0u32..4,
        payload in prop_oneof![json(), shaped_object()],
    ) {
        let org = decode::<OrgEvent>(event_type, version, &payload);
        let user = decode::<UserEvent>(event_type, version, &payload);
        // A type belongs to one family at most.
        prop_assert!(org.is_err() || user.is_err());
    }
}
