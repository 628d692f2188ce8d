//! Random command sequences never break the organization's invariants, and the
//! state rebuilt from the recorded events always equals the state decide saw.

use std::collections::HashMap;

use crate::common::*;
use chrono::Duration;
use proptest::prelude::*;
use roster_domain::organization::*;
use roster_domain::*;
use uuid::Uuid;

const EMAILS: [&str; 4] = ["a@x.io", "B@x.io", "c@x.io", "b@X.io"];

#[derive(Debug, Clone)]
enum Step {
    Invite { email: usize, role: u8 },
    Resend { inv: usize },
    Cancel { inv: usize },
    Accept { inv: usize, right_token: bool },
    Expire { inv: usize },
    ChangeRole { member: usize, role: u8 },
    Remove { member: usize },
    Provision { email: usize, role: u8 },
    Suspend { member: usize },
    Restore { member: usize },
    Wait { minutes: i64 },
    AsNonOwner { member: usize, inner: Box<Step> },
}

fn step() -> impl Strategy<Value = Step> {
    let leaf = prop_oneof![
        3 => (0..EMAILS.len(), 0u8..3).prop_map(|(email, role)| Step::Invite { email, role }),
        1 => (0usize..8).prop_map(|inv| Step::Resend { inv }),
        1 => (0usize..8).prop_map(|inv| Step::Cancel { inv }),
        3 => (0usize..8, prop::bool::weighted(0.8)).prop_map(|(inv, right_token)| Step::Accept { inv, right_token }),
        1 => (0usize..8).prop_map(|inv| Step::Expire { inv }),
        2 => (0usize..6, 0u8..3).prop_map(|(member, role)| Step::ChangeRole { member, role }),
        1 => (0usize..6).prop_map(|member| Step::Remove { member }),
        1 => (0..EMAILS.len(), 0u8..3).prop_map(|(email, role)| Step::Provision { email, role }),
        1 => (0usize..6).prop_map(|member| Step::Suspend { member }),
        1 => (0usize..6).prop_map(|member| Step::Restore { member }),
        2 => (1i64..20).prop_map(|minutes| Step::Wait { minutes }),
    ];
    leaf.prop_recursive(1, 2, 1, |inner| {
        (0usize..6, inner).prop_map(|(member, inner)| Step::AsNonOwner {
            member,
            inner: Box::new(inner),
        })
    })
}

fn role(n: u8) -> Role {
    match n {
        0 => single(SingleRole::Owner),
        1 => single(SingleRole::Admin),
        _ => single(SingleRole::Standard),
    }
}

struct Model {
    history: Vec<OrgEvent>,
    state: Option<Organization>,
    minutes: i64,
    invitations: Vec<InvitationId>,
    tokens: HashMap<InvitationId, u8>,
    next: u8,
}

impl Model {
    fn new() -> Self {
        let history = single_org_with_owner();
        let state = replay(&history);
        Self {
            history,
            state,
            minutes: 2,
            invitations: vec![INV_OWNER],
            tokens: HashMap::from([(INV_OWNER, 1)]),
            next: 10,
        }
    }

    fn members(&self) -> Vec<UserId> {
        self.state
            .as_ref()
            .map(|o| o.members.keys().copied().collect())
            .unwrap_or_default()
    }

    fn command(&mut self, step: &Step) -> Option<(Actor, OrgCommand)> {
        let inv = |m: &Self, i: usize| m.invitations.get(i % m.invitations.len()).copied();
        let member = |m: &Self, i: usize| {
            let all = m.members();
            (!all.is_empty()).then(|| all[i % all.len()])
        };
        self.next = self.next.wrapping_add(1).max(10);
        let n = self.next;
        Some(match step {
            Step::Invite { email: e, role: r } => {
                let id = InvitationId::from_uuid(Uuid::from_u128(
                    0x9000 + u128::from(n) + 256 * self.invitations.len() as u128,
                ));
                self.invitations.push(id);
                self.tokens.insert(id, n);
                (AS_OWNER, invite(id, EMAILS[*e], "Someone", role(*r), n))
            }
            Step::Resend { inv: i } => {
                let id = inv(self, *i)?;
                self.tokens.insert(id, n);
                (AS_OWNER, resend(id, n))
            }
            Step::Cancel { inv: i } => (
                AS_OWNER,
                OrgCommand::CancelInvite {
                    invitation_id: inv(self, *i)?,
                },
            ),
            Step::Accept {
                inv: i,
                right_token,
            } => {
                let id = inv(self, *i)?;
                let t = if *right_token {
                    *self.tokens.get(&id)?
                } else {
                    0
                };
                let user = UserId::from_uuid(Uuid::from_u128(0x7000 + u128::from(n)));
                (Actor::System, accept(id, t, user, "Someone"))
            }
            Step::Expire { inv: i } => (
                Actor::System,
                OrgCommand::ExpireInvite {
                    invitation_id: inv(self, *i)?,
                },
            ),
            Step::ChangeRole { member: m, role: r } => (
                AS_OWNER,
                OrgCommand::ChangeRole {
                    user_id: member(self, *m)?,
                    role: role(*r),
                },
            ),
            Step::Remove { member: m } => (
                AS_OWNER,
                OrgCommand::RemoveUser {
                    user_id: member(self, *m)?,
                },
            ),
            Step::Provision { email: e, role: r } => (
                AS_OWNER,
                OrgCommand::ProvisionMember {
                    user_id: UserId::from_uuid(Uuid::from_u128(0x7800 + u128::from(n))),
                    email: email(EMAILS[*e]),
                    full_name: name("Synced"),
                    role: role(*r),
                    external_id: None,
                },
            ),
            Step::Suspend { member: m } => (
                AS_OWNER,
                OrgCommand::SuspendMember {
                    user_id: member(self, *m)?,
                },
            ),
            Step::Restore { member: m } => (
                AS_OWNER,
                OrgCommand::RestoreMember {
                    user_id: member(self, *m)?,
                },
            ),
            Step::Wait { minutes } => {
                self.minutes += minutes;
                return None;
            }
            Step::AsNonOwner { member: m, inner } => {
                let actor = member(self, *m)?;
                let (_, command) = self.command(inner)?;
                (Actor::User(actor), command)
            }
        })
    }

    fn apply(&mut self, step: &Step) {
        let Some((actor, command)) = self.command(step) else {
            return;
        };
        let ctx = Context::at(t0() + Duration::minutes(self.minutes));
        let was_owner = match actor {
            Actor::System => true,
            Actor::User(u) => self
                .state
                .as_ref()
                .and_then(|o| o.members.get(&u))
                .is_some_and(|m| m.owns()),
            Actor::ApiKey(k) => self
                .state
                .as_ref()
                .and_then(|o| o.api_keys.get(&k))
                .is_some_and(|key| key.allows(Scope::Manage, ctx.now)),
        };
        let is_accept = matches!(command, OrgCommand::AcceptInvite { .. });
        // Refusals record nothing; only successes move the model.
        if let Ok(events) = decide(self.state.as_ref(), &Envelope { actor, command }, &ctx) {
            assert!(
                was_owner || is_accept,
                "a non-owner's management command succeeded"
            );
            for e in &events {
                self.state = evolve(self.state.take(), e);
            }
            self.history.extend(events);
        }
    }

    fn check(&self) {
        let org = self.state.as_ref().expect("org exists");
        // Open invitations: at most one per email, never for a member's email.
        let mut open: HashMap<String, usize> = HashMap::new();
        for inv in org.invitations.values().filter(|i| i.status.is_open()) {
            *open.entry(inv.email.key().to_owned()).or_default() += 1;
            assert!(
                org.member_by_email(&inv.email).is_none(),
                "member {} also has an open invitation",
                inv.email
            );
        }
        assert!(
            open.values().all(|n| *n == 1),
            "two open invitations for one email: {open:?}"
        );
        // Members are unique by email.
        let mut emails: Vec<&str> = org.members.values().map(|m| m.email.key()).collect();
        emails.sort_unstable();
        let before = emails.len();
        emails.dedup();
        assert_eq!(before, emails.len(), "two members share an email");
        // At least one owner, once one has joined (one joins in the setup).
        let owners = org.members.values().filter(|m| m.owns()).count();
        assert!(owners >= 1, "the organization lost its last owner");
        assert_eq!(owners, org.owner_count());
        // The log is the truth: the events as storage gives them back fold into
        // exactly the state decide saw.
        let stored: Vec<OrgEvent> = self
            .history
            .iter()
            .map(|e| {
                let (t, v, p) = encode(e).expect("events encode");
                decode::<OrgEvent>(t, v, &p).expect("decode")
            })
            .collect();
        assert_eq!(stored, self.history);
        assert_eq!(replay(&stored).as_ref(), Some(org));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_command_sequences_keep_every_invariant(steps in prop::collection::vec(step(), 1..60)) {
        let mut model = Model::new();
        model.check();
        for s in &steps {
            model.apply(s);
            model.check();
        }
    }
}
