//! Fixtures for Given / When / Then tests: fixed ids and a fixed clock, so every
//! event sequence is deterministic and snapshots need no redaction.
#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use roster_domain::organization::*;
use roster_domain::*;
use uuid::Uuid;

/// 2026-01-05 09:00:00 UTC, the test clock's zero.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .expect("valid time")
}

pub fn at(minutes: i64) -> Context {
    Context::at(t0() + Duration::minutes(minutes))
}

pub fn at_seconds(seconds: i64) -> Context {
    Context::at(t0() + Duration::seconds(seconds))
}

pub const ORG: OrgId = OrgId::from_uuid(Uuid::from_u128(0x0100));
pub const OWNER: UserId = UserId::from_uuid(Uuid::from_u128(0x0200));
pub const ANN: UserId = UserId::from_uuid(Uuid::from_u128(0x0201));
pub const BOB: UserId = UserId::from_uuid(Uuid::from_u128(0x0202));
pub const ACC_EU: AccountId = AccountId::from_uuid(Uuid::from_u128(0x0300));
pub const ACC_US: AccountId = AccountId::from_uuid(Uuid::from_u128(0x0301));
pub const INV_OWNER: InvitationId = InvitationId::from_uuid(Uuid::from_u128(0x0400));
pub const INV_ANN: InvitationId = InvitationId::from_uuid(Uuid::from_u128(0x0401));
pub const INV_BOB: InvitationId = InvitationId::from_uuid(Uuid::from_u128(0x0402));

pub fn send(n: u128) -> SendId {
    SendId::from_uuid(Uuid::from_u128(0x0500 + n))
}

pub fn token(n: u8) -> TokenDigest {
    TokenDigest::from_bytes([n; 32])
}

pub fn email(s: &str) -> Email {
    Email::parse(s).expect("valid email")
}

pub fn name(s: &str) -> PersonName {
    PersonName::parse(s).expect("valid name")
}

pub fn display(s: &str) -> DisplayName {
    DisplayName::parse(s).expect("valid name")
}

pub fn single(role: SingleRole) -> Role {
    Role::Single(role)
}

pub fn contributor(roles: &[(AccountId, AccountRole)]) -> Role {
    Role::Multi(MultiRole::Contributor(
        AccountRoles::new(roles.iter().copied().collect::<BTreeMap<_, _>>()).expect("non-empty"),
    ))
}

pub fn multi_owner() -> Role {
    Role::Multi(MultiRole::Owner)
}

/// A Given / When / Then scenario over the organization aggregate.
pub struct Scenario {
    history: Vec<OrgEvent>,
}

pub fn given(history: Vec<OrgEvent>) -> Scenario {
    Scenario { history }
}

impl Scenario {
    /// Runs `command` as `actor` at `ctx` against the folded history.
    pub fn when(
        &self,
        actor: Actor,
        command: OrgCommand,
        ctx: Context,
    ) -> Result<Vec<OrgEvent>, DomainError> {
        let state = replay(&self.history);
        decide(state.as_ref(), &Envelope { actor, command }, &ctx)
    }
}

/// The Then of a scenario: what a When answered must be what the rule says.
pub trait Then {
    /// Then the command was accepted: these are the events it recorded.
    fn then(self) -> Vec<OrgEvent>;
    /// Then the command was refused with `expected`, and nothing was recorded.
    /// Answers the refusal as a snapshot pins it: the rule, then its message.
    fn then_refuses(self, expected: DomainError) -> String;
}

impl Then for Result<Vec<OrgEvent>, DomainError> {
    fn then(self) -> Vec<OrgEvent> {
        self.unwrap_or_else(|e| panic!("expected events, the command was refused: {e}"))
    }

    fn then_refuses(self, expected: DomainError) -> String {
        match self {
            Err(refusal) => {
                assert_eq!(refusal, expected);
                format!("{refusal:?}\n{refusal}")
            }
            Ok(events) => panic!("expected {expected:?}, the command recorded {events:?}"),
        }
    }
}

/// Events as the log would hold them after the system bootstraps a single-account
/// org and its first owner accepts.
pub fn single_org_with_owner() -> Vec<OrgEvent> {
    run(vec![
        (Actor::System, create_single(), at(0)),
        (
            Actor::System,
            invite(
                INV_OWNER,
                "owner@acme.io",
                "Olive Owner",
                single(SingleRole::Owner),
                1,
            ),
            at(0),
        ),
        (
            Actor::System,
            accept(INV_OWNER, 1, OWNER, "Olive Owner"),
            at(1),
        ),
    ])
}

/// A multi-account org with accounts EU and US and an owner.
pub fn multi_org_with_owner() -> Vec<OrgEvent> {
    run(vec![
        (Actor::System, create_multi(), at(0)),
        (
            Actor::System,
            invite(INV_OWNER, "owner@acme.io", "Olive Owner", multi_owner(), 1),
            at(0),
        ),
        (
            Actor::System,
            accept(INV_OWNER, 1, OWNER, "Olive Owner"),
            at(1),
        ),
    ])
}

/// Folds commands through decide, failing the test on any refusal.
pub fn run(steps: Vec<(Actor, OrgCommand, Context)>) -> Vec<OrgEvent> {
    extend(Vec::new(), steps)
}

/// Appends the events of more commands to a history.
pub fn extend(
    mut history: Vec<OrgEvent>,
    steps: Vec<(Actor, OrgCommand, Context)>,
) -> Vec<OrgEvent> {
    for (actor, command, ctx) in steps {
        let state = replay(&history);
        let events = decide(
            state.as_ref(),
            &Envelope {
                actor,
                command: command.clone(),
            },
            &ctx,
        )
        .unwrap_or_else(|e| panic!("setup command {command:?} was refused: {e}"));
        history.extend(events);
    }
    history
}

pub fn create_single() -> OrgCommand {
    OrgCommand::CreateOrganization {
        org_id: ORG,
        name: display("Acme Logistics"),
        shape: OrgShape::Single,
        accounts: vec![],
    }
}

pub fn create_multi() -> OrgCommand {
    OrgCommand::CreateOrganization {
        org_id: ORG,
        name: display("Acme Group"),
        shape: OrgShape::Multi,
        accounts: vec![
            (ACC_EU, display("Europe")),
            (ACC_US, display("United States")),
        ],
    }
}

pub fn invite(id: InvitationId, addr: &str, full_name: &str, role: Role, n: u8) -> OrgCommand {
    OrgCommand::InviteUser {
        invitation_id: id,
        send_id: send(u128::from(n)),
        email: email(addr),
        full_name: name(full_name),
        role,
        token_digest: token(n),
    }
}

pub fn accept(id: InvitationId, token_n: u8, user: UserId, full_name: &str) -> OrgCommand {
    OrgCommand::AcceptInvite {
        invitation_id: id,
        token_digest: token(token_n),
        user_id: user,
        full_name: name(full_name),
    }
}

pub fn resend(id: InvitationId, n: u8) -> OrgCommand {
    OrgCommand::ResendInvite {
        invitation_id: id,
        send_id: send(u128::from(n)),
        token_digest: token(n),
    }
}

pub fn change_invitation(id: InvitationId, role: Role, n: u8) -> OrgCommand {
    OrgCommand::ChangeInvitation {
        invitation_id: id,
        role,
        send_id: send(u128::from(n)),
        token_digest: token(n),
    }
}

pub const KEY: ApiKeyId = ApiKeyId::from_uuid(Uuid::from_u128(0x0700));

pub fn create_key(
    id: ApiKeyId,
    name: &str,
    scopes: &[Scope],
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> OrgCommand {
    OrgCommand::CreateApiKey {
        key_id: id,
        name: display(name),
        scopes: scopes.iter().copied().collect(),
        prefix: "rst_0000".into(),
        secret_digest: token(9),
        expires_at,
    }
}

pub const AS_OWNER: Actor = Actor::User(OWNER);

/// A connection to the provider at `issuer` for `domains`.
pub fn sso(
    issuer: &str,
    domains: &[&str],
    enforced: bool,
    join_role: Option<Role>,
) -> SsoConnection {
    SsoConnection {
        issuer: issuer.into(),
        client_id: "roster".into(),
        client_secret: SealedSecret("v1.sealed-by-the-server".into()),
        domains: domains
            .iter()
            .map(|d| EmailDomain::parse(d).expect("a valid domain"))
            .collect(),
        enforced,
        join_role,
    }
}

pub fn subject(s: &str) -> Subject {
    Subject(s.into())
}
