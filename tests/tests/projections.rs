//! Read models: what the projections make of a scripted story, replays that
//! reproduce them exactly, crash safety, paging, and "as of" answers.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use roster_commands::tokens::InvitationToken;
use roster_commands::{HandleError, ManualClock};
use roster_domain::organization::{replay, Actor, DomainError, OrgCommand, OrgEvent};
use roster_domain::*;
use roster_eventstore::Position;
use roster_projections::queries::{self, HistoryFilter, MemberFilter, QueryError};
use roster_projections::rebuild::rebuild;
use roster_projections::runner;
use roster_tests::world::Harness;
use roster_tests::{project_everything, Backend};
use uuid::Uuid;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 2, 8, 0, 0)
        .single()
        .expect("time")
}

/// The shared harness, plus every org event appended with the time it was appended at.
struct World {
    harness: Harness,
    log: Vec<(DateTime<Utc>, OrgEvent)>,
}

impl std::ops::Deref for World {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

impl World {
    async fn new(backend: Backend) -> Self {
        Self {
            harness: Harness::new(backend, start()).await,
            log: Vec::new(),
        }
    }

    async fn run(
        &mut self,
        org: OrgId,
        actor: Actor,
        command: OrgCommand,
    ) -> Result<Option<Position>, HandleError<DomainError>> {
        let outcome = self.harness.execute(org, actor, command).await?;
        let now = self.clock.now_for_test();
        self.log
            .extend(outcome.events.iter().cloned().map(|e| (now, e)));
        Ok(outcome.position())
    }

    fn tick(&self, seconds: i64) {
        self.clock.advance(chrono::Duration::seconds(seconds));
    }
}

trait Now {
    fn now_for_test(&self) -> DateTime<Utc>;
}

impl Now for ManualClock {
    fn now_for_test(&self) -> DateTime<Utc> {
        roster_eventstore::Clock::now(self)
    }
}

fn invite(
    id: InvitationId,
    email: &str,
    name: &str,
    role: Role,
    token: &InvitationToken,
) -> OrgCommand {
    OrgCommand::InviteUser {
        invitation_id: id,
        send_id: SendId::from_uuid(Uuid::now_v7()),
        email: Email::parse(email).expect("email"),
        full_name: PersonName::parse(name).expect("name"),
        role,
        token_digest: token.digest(),
    }
}

fn accept(id: InvitationId, token: &InvitationToken, user: UserId, name: &str) -> OrgCommand {
    OrgCommand::AcceptInvite {
        invitation_id: id,
        token_digest: token.digest(),
        user_id: user,
        full_name: PersonName::parse(name).expect("name"),
    }
}

fn new_token() -> InvitationToken {
    InvitationToken::generate().expect("token")
}

/// A multi-account org: owner Olive, contributor Ann (EU admin), Bob invited then
/// resent, Cleo invited and cancelled, Dan invited and left to expire, Ann promoted,
/// then Ann removed.
async fn story(w: &mut World) -> (OrgId, UserId, UserId) {
    let org = OrgId::from_uuid(Uuid::now_v7());
    let (eu, us) = (
        AccountId::from_uuid(Uuid::now_v7()),
        AccountId::from_uuid(Uuid::now_v7()),
    );
    let (olive, ann) = (
        UserId::from_uuid(Uuid::now_v7()),
        UserId::from_uuid(Uuid::now_v7()),
    );
    let sys = Actor::System;
    let owner = Actor::User(olive);
    w.run(
        org,
        sys,
        OrgCommand::CreateOrganization {
            org_id: org,
            name: DisplayName::parse("Acme Group").expect("name"),
            shape: OrgShape::Multi,
            accounts: vec![
                (eu, DisplayName::parse("Europe").expect("n")),
                (us, DisplayName::parse("Americas").expect("n")),
            ],
        },
    )
    .await
    .expect("create");
    let (i_olive, t_olive) = (InvitationId::from_uuid(Uuid::now_v7()), new_token());
    w.run(
        org,
        sys,
        invite(
            i_olive,
            "olive@acme.io",
            "Olive Owner",
            Role::owner_of(OrgShape::Multi),
            &t_olive,
        ),
    )
    .await
    .expect("invite olive");
    w.tick(60);
    w.run(org, sys, accept(i_olive, &t_olive, olive, "Olive Owner"))
        .await
        .expect("olive joins");
    w.tick(60);
    let contributor = Role::Multi(MultiRole::Contributor(
        AccountRoles::new([(eu, AccountRole::Admin)].into_iter().collect()).expect("roles"),
    ));
    let (i_ann, t_ann) = (InvitationId::from_uuid(Uuid::now_v7()), new_token());
    w.run(
        org,
        owner,
        invite(i_ann, "ann@example.com", "Ann Lee", contributor, &t_ann),
    )
    .await
    .expect("invite ann");
    let (i_bob, t_bob) = (InvitationId::from_uuid(Uuid::now_v7()), new_token());
    w.run(
        org,
        owner,
        invite(
            i_bob,
            "bob@example.com",
            "Bob Stone",
            Role::owner_of(OrgShape::Multi),
            &t_bob,
        ),
    )
    .await
    .expect("invite bob");
    let (i_cleo, t_cleo) = (InvitationId::from_uuid(Uuid::now_v7()), new_token());
    w.run(
        org,
        owner,
        invite(
            i_cleo,
            "cleo@example.com",
            "Cleo Park",
            Role::owner_of(OrgShape::Multi),
            &t_cleo,
        ),
    )
    .await
    .expect("invite cleo");
    let (i_dan, t_dan) = (InvitationId::from_uuid(Uuid::now_v7()), new_token());
    let dan_role = Role::Multi(MultiRole::Contributor(
        AccountRoles::new([(us, AccountRole::Standard)].into_iter().collect()).expect("roles"),
    ));
    w.run(
        org,
        owner,
        invite(i_dan, "dan@example.com", "Dan Moss", dan_role, &t_dan),
    )
    .await
    .expect("invite dan");
    w.tick(120);
    w.run(org, sys, accept(i_ann, &t_ann, ann, "Ann Lee"))
        .await
        .expect("ann joins");
    w.run(
        org,
        sys,
        OrgCommand::RecordEmailSent {
            invitation_id: i_bob,
            send_id: send_of(&w.log, i_bob),
            message_id: "<bob-1@roster>".into(),
        },
    )
    .await
    .expect("email");
    w.run(
        org,
        owner,
        OrgCommand::CancelInvite {
            invitation_id: i_cleo,
        },
    )
    .await
    .expect("cancel cleo");
    w.tick(600);
    w.run(
        org,
        owner,
        OrgCommand::ResendInvite {
            invitation_id: i_bob,
            send_id: SendId::from_uuid(Uuid::now_v7()),
            token_digest: new_token().digest(),
        },
    )
    .await
    .expect("resend bob");
    w.tick(300);
    w.run(
        org,
        sys,
        OrgCommand::ExpireInvite {
            invitation_id: i_dan,
        },
    )
    .await
    .expect("expire dan");
    w.run(
        org,
        owner,
        OrgCommand::ChangeRole {
            user_id: ann,
            role: Role::owner_of(OrgShape::Multi),
        },
    )
    .await
    .expect("promote ann");
    w.tick(60);
    w.run(org, owner, OrgCommand::RemoveUser { user_id: ann })
        .await
        .expect("remove ann");
    (org, olive, ann)
}

fn send_of(log: &[(DateTime<Utc>, OrgEvent)], id: InvitationId) -> SendId {
    log.iter()
        .rev()
        .find_map(|(_, e)| match e {
            OrgEvent::UserInvited(i) if i.invitation_id == id => Some(i.send_id),
            OrgEvent::InvitationResent(r) if r.invitation_id == id => Some(r.send_id),
            _ => None,
        })
        .expect("a send")
}

async fn the_scripted_story_projects_every_read_model(backend: Backend) {
    let mut w = World::new(backend).await;
    let (org, olive, ann) = story(&mut w).await;
    project_everything(&w.db, w.store.as_ref())
        .await
        .expect("project");

    let page = queries::members(&w.db, org, Some(olive), &MemberFilter::default(), None, 50)
        .await
        .expect("members");
    let names: Vec<&str> = page.members.iter().map(|m| m.full_name.as_str()).collect();
    assert_eq!(names, ["Olive Owner"], "Ann was removed");

    let invitations = queries::invitations(&w.db, org).await.expect("invitations");
    let summary: Vec<(String, String, String)> = invitations
        .iter()
        .map(|i| (i.email.clone(), i.status.clone(), i.delivery.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("bob@example.com".into(), "pending".into(), "queued".into()),
            ("dan@example.com".into(), "expired".into(), "queued".into()),
        ],
        "accepted and cancelled invitations leave the list; a resend resets delivery"
    );

    assert_eq!(
        queries::org_role(&w.db, org, olive).await.expect("role"),
        Some("owner".into())
    );
    assert_eq!(
        queries::org_role(&w.db, org, ann).await.expect("role"),
        None
    );
    let due = queries::due_deadlines(
        &w.db,
        w.clock.now_for_test() + chrono::Duration::hours(1),
        None,
        10,
    )
    .await
    .expect("due");
    assert_eq!(
        due.len(),
        1,
        "only Bob's resent invitation still has a deadline"
    );

    let history = queries::history(&w.db, org, &HistoryFilter::default(), 0, 1000)
        .await
        .expect("history");
    let lines: Vec<String> = history
        .iter()
        .map(|h| format!("{}: {}", h.event_type, h.summary))
        .collect();
    // One snapshot for both backends: they must tell the same story.
    insta::assert_json_snapshot!("scripted_story_history", lines);

    let removed = HistoryFilter {
        event_type: Some("MemberRemoved".into()),
        ..HistoryFilter::default()
    };
    let only = queries::history(&w.db, org, &removed, 0, 10)
        .await
        .expect("filtered");
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].subject, ann.to_string());
    assert_eq!(only[0].actor_id, olive.to_string());

    // The in-memory rebuild twins agree with the live path on this richer story too.
    let all = roster_projections::all();
    let refs: Vec<&dyn roster_projections::Projection> = all.iter().map(|p| p.as_ref()).collect();
    let reports =
        roster_projections::rebuild::rebuild_many(&w.db, w.store.as_ref(), &refs, true, |_, _| {})
            .await
            .expect("verify");
    for r in reports {
        assert!(
            r.differences.is_empty(),
            "{}: {:?}",
            r.projection,
            r.differences
        );
    }
}

async fn random_workloads_replay_to_identical_read_models(backend: Backend) {
    let mut w = World::new(backend).await;
    random_workload(&mut w, 0x5eed, 3, 250).await;
    project_everything(&w.db, w.store.as_ref())
        .await
        .expect("project");
    for p in roster_projections::all() {
        let report = rebuild(&w.db, w.store.as_ref(), p.as_ref(), true, |_, _| {})
            .await
            .expect("verify");
        assert!(
            report.differences.is_empty(),
            "{}: {:?}",
            p.name(),
            report.differences
        );
        assert!(report.events > 0);
        let swapped = rebuild(&w.db, w.store.as_ref(), p.as_ref(), false, |_, _| {})
            .await
            .expect("swap");
        assert!(swapped.swapped);
        let again = rebuild(&w.db, w.store.as_ref(), p.as_ref(), true, |_, _| {})
            .await
            .expect("verify after swap");
        assert!(
            again.differences.is_empty(),
            "{}: {:?}",
            p.name(),
            again.differences
        );
    }
    // A hand-edited read model is caught.
    let mut tx = w.db.begin().await.expect("tx");
    roster_storage::exec!(&mut tx, "UPDATE rm_members SET full_name = 'Mallory' WHERE user_id IN (SELECT user_id FROM rm_members LIMIT 1)").expect("edit");
    tx.commit().await.expect("commit");
    let members = roster_projections::by_name("members").expect("members");
    let report = rebuild(&w.db, w.store.as_ref(), members.as_ref(), true, |_, _| {})
        .await
        .expect("verify");
    assert_eq!(report.differences.len(), 1, "{:?}", report.differences);
    assert_eq!(report.differences[0].table, "rm_members");
}

/// A seeded random workload over `orgs` single-account organizations.
async fn random_workload(w: &mut World, seed: u64, orgs: usize, steps: usize) -> Vec<OrgId> {
    let mut rng = seed;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let mut ids = Vec::new();
    let mut owners = Vec::new();
    for _ in 0..orgs {
        let org = OrgId::from_uuid(Uuid::now_v7());
        let owner = UserId::from_uuid(Uuid::now_v7());
        w.run(
            org,
            Actor::System,
            OrgCommand::CreateOrganization {
                org_id: org,
                name: DisplayName::parse("Org").expect("n"),
                shape: OrgShape::Single,
                accounts: vec![],
            },
        )
        .await
        .expect("create");
        let (i, t) = (InvitationId::from_uuid(Uuid::now_v7()), new_token());
        w.run(
            org,
            Actor::System,
            invite(
                i,
                "owner@org.io",
                "Owner",
                Role::Single(SingleRole::Owner),
                &t,
            ),
        )
        .await
        .expect("invite");
        w.run(org, Actor::System, accept(i, &t, owner, "Owner"))
            .await
            .expect("accept");
        ids.push(org);
        owners.push(owner);
    }
    let mut invitations: Vec<(OrgId, InvitationId, InvitationToken)> = Vec::new();
    let mut members: Vec<(OrgId, UserId)> = Vec::new();
    let roles = [SingleRole::Owner, SingleRole::Admin, SingleRole::Standard];
    for _ in 0..steps {
        let o = next(orgs);
        let (org, owner) = (ids[o], Actor::User(owners[o]));
        w.tick(next(400) as i64);
        let command = match next(11) {
            0 | 1 => {
                let (i, t) = (InvitationId::from_uuid(Uuid::now_v7()), new_token());
                let email = format!("p{}@ex.io", next(10));
                let command = invite(
                    i,
                    &email,
                    &format!("Person {}", next(50)),
                    Role::Single(roles[next(3)]),
                    &t,
                );
                invitations.push((org, i, t));
                command
            }
            2 if !invitations.is_empty() => {
                let k = next(invitations.len());
                let t = new_token();
                let command = OrgCommand::ResendInvite {
                    invitation_id: invitations[k].1,
                    send_id: SendId::from_uuid(Uuid::now_v7()),
                    token_digest: t.digest(),
                };
                invitations[k].2 = t;
                command
            }
            3 if !invitations.is_empty() => OrgCommand::CancelInvite {
                invitation_id: invitations[next(invitations.len())].1,
            },
            4 | 5 if !invitations.is_empty() => {
                let (org_of, i, t) = &invitations[next(invitations.len())];
                let user = UserId::from_uuid(Uuid::now_v7());
                if w.run(*org_of, Actor::System, accept(*i, t, user, "Joiner"))
                    .await
                    .is_ok()
                {
                    members.push((*org_of, user));
                }
                continue;
            }
            6 if !invitations.is_empty() => OrgCommand::ExpireInvite {
                invitation_id: invitations[next(invitations.len())].1,
            },
            7 if !members.is_empty() => {
                let (org_of, user) = members[next(members.len())];
                let command = if next(3) == 0 {
                    OrgCommand::RemoveUser { user_id: user }
                } else {
                    OrgCommand::ChangeRole {
                        user_id: user,
                        role: Role::Single(roles[next(3)]),
                    }
                };
                let _ = w.run(org_of, Actor::System, command).await;
                continue;
            }
            // A directory adds, suspends and restores people.
            8 => {
                let user = UserId::from_uuid(Uuid::now_v7());
                let command = OrgCommand::ProvisionMember {
                    user_id: user,
                    email: Email::parse(&format!("p{}@ex.io", next(10))).expect("email"),
                    full_name: PersonName::parse(&format!("Synced {}", next(50))).expect("name"),
                    role: Role::Single(roles[next(3)]),
                    external_id: Some(format!("ext-{}", next(1000))),
                };
                if w.run(org, Actor::System, command).await.is_ok() {
                    members.push((org, user));
                }
                continue;
            }
            9 | 10 if !members.is_empty() => {
                let (org_of, user) = members[next(members.len())];
                let command = match next(3) {
                    0 => OrgCommand::SuspendMember { user_id: user },
                    1 => OrgCommand::RestoreMember { user_id: user },
                    _ => OrgCommand::ChangeMemberDetails {
                        user_id: user,
                        full_name: PersonName::parse(&format!("Renamed {}", next(50)))
                            .expect("name"),
                        external_id: Some(format!("ext-{}", next(1000))),
                    },
                };
                let _ = w.run(org_of, Actor::System, command).await;
                continue;
            }
            _ => continue,
        };
        // Commands aimed at another org's invitation are refused: that is fine.
        let _ = w.run(org, owner, command).await;
    }
    ids
}

async fn a_batch_that_fails_midway_leaves_no_trace(backend: Backend) {
    let mut w = World::new(backend).await;
    story(&mut w).await;
    let members = roster_projections::by_name("members").expect("members");
    runner::ensure_installed(&w.db, members.as_ref())
        .await
        .expect("install");
    let failing = Arc::new(FailOn {
        inner: members.clone(),
        nth: 7,
        seen: std::sync::atomic::AtomicUsize::new(0),
        bump: 0,
    });
    let err = runner::apply_batch(
        &w.db,
        w.store.as_ref(),
        &[failing.as_ref() as &dyn roster_projections::Projection],
        "",
        500,
        None,
    )
    .await;
    assert!(err.is_err(), "the seventh event fails the batch");
    let status = runner::statuses(&w.db).await.expect("statuses");
    let members_status = status
        .iter()
        .find(|s| s.name == "members")
        .expect("members status");
    assert_eq!(
        members_status.position,
        Position::START,
        "the checkpoint did not move"
    );
    let page = queries::members(
        &w.db,
        OrgId::from_uuid(Uuid::nil()),
        None,
        &MemberFilter::default(),
        None,
        10,
    )
    .await
    .expect("members");
    assert!(page.members.is_empty());
    let (rows,) =
        roster_storage::fetch!(db & w.db, fetch_one, (i64,), "SELECT count(*) FROM rm_orgs")
            .expect("count");
    assert_eq!(rows, 0, "the rolled-back batch wrote nothing");
    // Restarted with the real projection, it ends where a full replay ends.
    project_everything(&w.db, w.store.as_ref())
        .await
        .expect("project");
    let report = rebuild(&w.db, w.store.as_ref(), members.as_ref(), true, |_, _| {})
        .await
        .expect("verify");
    assert!(report.differences.is_empty(), "{:?}", report.differences);
}

/// A real projection that fails on its `nth` event, and reports its version
/// `bump` higher (as a changed projection would).
struct FailOn {
    inner: Arc<dyn roster_projections::Projection>,
    nth: usize,
    seen: std::sync::atomic::AtomicUsize,
    bump: i64,
}

impl roster_projections::Projection for FailOn {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn version(&self) -> i64 {
        self.inner.version() + self.bump
    }
    fn tables(&self) -> &'static [&'static roster_projections::rows::Table] {
        self.inner.tables()
    }
    fn create_sql(&self, suffix: &str) -> Vec<String> {
        self.inner.create_sql(suffix)
    }
    fn apply(
        &self,
        rows: &mut roster_projections::rows::Rows,
        event: &roster_projections::ProjectedEvent,
    ) -> Result<(), roster_projections::ProjectionError> {
        if self.seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == self.nth {
            return Err(roster_projections::ProjectionError::Inconsistent(
                "simulated crash".into(),
            ));
        }
        self.inner.apply(rows, event)
    }
}

async fn a_changed_read_model_rebuilds_alone_in_the_projector(backend: Backend) {
    let mut w = World::new(backend).await;
    story(&mut w).await;
    project_everything(&w.db, w.store.as_ref())
        .await
        .expect("project");
    let head = w.store.head().await.expect("head");
    let count = |table: &'static str| {
        let db = w.db.clone();
        async move {
            let (n,) = roster_storage::fetch!(
                db & db,
                fetch_one,
                (i64,),
                &format!("SELECT count(*) FROM {table}")
            )
            .expect("count");
            n
        }
    };
    let (members_before, history_before) = (count("rm_members").await, count("rm_history").await);
    assert!(members_before > 0 && history_before > 0);
    // The members projection changes: installing it drops its tables and starts it over.
    let typed = Arc::new(FailOn {
        inner: roster_projections::by_name("members").expect("members"),
        nth: usize::MAX,
        seen: std::sync::atomic::AtomicUsize::new(0),
        bump: 1,
    });
    let changed: Arc<dyn roster_projections::Projection> = typed.clone();
    runner::ensure_installed(&w.db, changed.as_ref())
        .await
        .expect("install");
    assert_eq!(
        count("rm_members").await,
        0,
        "the changed tables start empty"
    );
    let mut all = roster_projections::all();
    for p in all.iter_mut() {
        if p.name() == "members" {
            *p = changed.clone();
        }
    }
    let refs: Vec<&dyn roster_projections::Projection> = all.iter().map(|p| p.as_ref()).collect();
    // Small batches, so the changed one is behind for several of them.
    while runner::apply_batch(&w.db, w.store.as_ref(), &refs, "", 7, None)
        .await
        .expect("batch")
        > 0
    {}
    assert!(
        typed.seen.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the changed projection was fed"
    );
    assert_eq!(count("rm_members").await, members_before);
    assert_eq!(
        count("rm_history").await,
        history_before,
        "the others took nothing twice"
    );
    for s in runner::statuses(&w.db).await.expect("statuses") {
        assert_eq!(s.position, head, "{} ends at the head", s.name);
    }
}

async fn a_failing_projection_is_visible_and_resumes_after_a_fix(backend: Backend) {
    let mut w = World::new(backend).await;
    story(&mut w).await;
    let members = roster_projections::by_name("members").expect("members");
    let broken: Arc<dyn roster_projections::Projection> = Arc::new(FailOn {
        inner: members.clone(),
        nth: 1,
        seen: std::sync::atomic::AtomicUsize::new(0),
        bump: 0,
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(runner::run(
        w.db.clone(),
        w.store.clone(),
        vec![broken],
        stopped,
    ));
    let failure = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let s = runner::statuses(&w.db).await.expect("statuses");
            if let Some(f) = s
                .iter()
                .find(|s| s.name == "members")
                .and_then(|s| s.failure.clone())
            {
                break (
                    f,
                    s.iter()
                        .find(|s| s.name == "members")
                        .and_then(|s| s.failed_position),
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the failure shows up");
    assert!(failure.0.contains("simulated crash"), "{failure:?}");
    assert!(failure.1.is_some(), "the failing position is named");
    stop.send_replace(true);
    task.await.expect("runner stops");
    // The "fixed" projection resumes from the same event and clears the failure.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(runner::run(
        w.db.clone(),
        w.store.clone(),
        vec![members],
        stopped,
    ));
    let head = w.store.head().await.expect("head");
    let caught_up = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let s = runner::statuses(&w.db).await.expect("statuses");
            let m = s
                .iter()
                .find(|s| s.name == "members")
                .cloned()
                .expect("members");
            if m.position >= head && m.failure.is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    stop.send_replace(true);
    task.await.expect("runner stops");
    assert!(caught_up.is_ok(), "the fixed projection caught up");
}

async fn members_page_with_the_current_user_first_and_stable_cursors(backend: Backend) {
    let mut w = World::new(backend).await;
    let org = OrgId::from_uuid(Uuid::now_v7());
    w.run(
        org,
        Actor::System,
        OrgCommand::CreateOrganization {
            org_id: org,
            name: DisplayName::parse("Org").expect("n"),
            shape: OrgShape::Single,
            accounts: vec![],
        },
    )
    .await
    .expect("create");
    let mut users = Vec::new();
    for n in 0..23 {
        let (i, t, u) = (
            InvitationId::from_uuid(Uuid::now_v7()),
            new_token(),
            UserId::from_uuid(Uuid::now_v7()),
        );
        let role = if n == 0 {
            SingleRole::Owner
        } else if n % 3 == 0 {
            SingleRole::Admin
        } else {
            SingleRole::Standard
        };
        let name = format!("Member {:02}", 22 - n);
        w.run(
            org,
            Actor::System,
            invite(i, &format!("m{n}@ex.io"), &name, Role::Single(role), &t),
        )
        .await
        .expect("invite");
        w.run(org, Actor::System, accept(i, &t, u, &name))
            .await
            .expect("accept");
        users.push(u);
    }
    project_everything(&w.db, w.store.as_ref())
        .await
        .expect("project");
    let me = users[10]; // "Member 12"
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = queries::members(
            &w.db,
            org,
            Some(me),
            &MemberFilter::default(),
            cursor.as_deref(),
            5,
        )
        .await
        .expect("page");
        seen.extend(page.members.iter().map(|m| m.full_name.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 23, "every member exactly once: {seen:?}");
    assert_eq!(seen[0], "Member 12", "the current user is pinned first");
    let rest: Vec<String> = seen[1..].to_vec();
    let mut sorted = rest.clone();
    sorted.sort();
    assert_eq!(rest, sorted, "then by name");

    let admins = MemberFilter {
        role: Some("admin".into()),
        ..MemberFilter::default()
    };
    let page = queries::members(&w.db, org, Some(me), &admins, None, 50)
        .await
        .expect("admins");
    assert_eq!(page.members.len(), 7);
    assert!(page.members.iter().all(|m| m.role_label == "admin"));
    let search = MemberFilter {
        search: Some("M5@EX".into()),
        ..MemberFilter::default()
    };
    let page = queries::members(&w.db, org, None, &search, None, 50)
        .await
        .expect("search");
    assert_eq!(
        page.members
            .iter()
            .map(|m| m.email.as_str())
            .collect::<Vec<_>>(),
        ["m5@ex.io"]
    );
    let wildcard = MemberFilter {
        search: Some("%".into()),
        ..MemberFilter::default()
    };
    assert!(queries::members(&w.db, org, None, &wildcard, None, 50)
        .await
        .expect("wild")
        .members
        .is_empty());
    assert!(matches!(
        queries::members(
            &w.db,
            org,
            None,
            &MemberFilter::default(),
            Some("nonsense"),
            5
        )
        .await,
        Err(QueryError::BadCursor)
    ));
}

async fn as_of_answers_match_a_brute_force_replay(backend: Backend) {
    let mut w = World::new(backend).await;
    let orgs = random_workload(&mut w, 0xa5a5, 1, 150).await;
    let org = orgs[0];
    project_everything(&w.db, w.store.as_ref())
        .await
        .expect("project");
    let end = w.clock.now_for_test();
    let span = (end - start()).num_seconds().max(1);
    let mut rng = 0x1234_5678u64;
    for k in 0..25 {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let offset = if k == 0 {
            -10
        } else {
            (rng >> 33) as i64 % (span + 20)
        };
        let at = start() + chrono::Duration::seconds(offset);
        let expected = replay(w.log.iter().filter(|(t, _)| *t <= at).map(|(_, e)| e));
        let got = queries::organization_as_of(w.store.as_ref(), org, at)
            .await
            .expect("as of");
        // The membership periods answer the same as the fold, member by member.
        let mut folded: Vec<(String, String, String, Role)> = expected
            .as_ref()
            .map(|o| {
                // A suspended member has no access: no period is open for them.
                o.members
                    .values()
                    .filter(|m| !m.suspended)
                    .map(|m| {
                        (
                            m.user_id.to_string(),
                            m.email.to_string(),
                            m.full_name.to_string(),
                            m.role.clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        folded.sort_by(|a, b| a.0.cmp(&b.0));
        let mut periods: Vec<(String, String, String, Role)> =
            queries::members_as_of(&w.db, org, None, at)
                .await
                .expect("periods")
                .into_iter()
                .map(|m| (m.user_id.to_string(), m.email, m.full_name, m.role))
                .collect();
        periods.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(periods, folded, "membership periods as of {at}");
        assert_eq!(got, expected, "as of {at}");
    }
}

/// Folds take any history the log holds: two sends that share a token digest
/// (an imported or synthetic history) neither stop the projector nor a rebuild;
/// the later link's row stands.
async fn a_repeated_link_digest_neither_stops_the_projector_nor_a_rebuild(backend: Backend) {
    let mut w = World::new(backend).await;
    let org = OrgId::from_uuid(Uuid::now_v7());
    w.run(
        org,
        Actor::System,
        OrgCommand::CreateOrganization {
            org_id: org,
            name: DisplayName::parse("Org").expect("n"),
            shape: OrgShape::Single,
            accounts: vec![],
        },
    )
    .await
    .expect("create");
    let shared = new_token();
    let mut last = None;
    for email in ["a@ex.io", "b@ex.io"] {
        let id = InvitationId::from_uuid(Uuid::now_v7());
        w.run(
            org,
            Actor::System,
            invite(
                id,
                email,
                "Same Link",
                Role::Single(SingleRole::Standard),
                &shared,
            ),
        )
        .await
        .expect("invite");
        last = Some(id);
        // One batch each: the second meets the first's row in the table.
        project_everything(&w.db, w.store.as_ref())
            .await
            .expect("the projector takes it");
    }
    let target = queries::link_target(&w.db, &String::from(shared.digest()))
        .await
        .expect("lookup")
        .expect("a target");
    assert_eq!(
        Some(target.invitation_id),
        last,
        "the later send's row stands"
    );
    let links = roster_projections::by_name("links").expect("links");
    let report = rebuild(&w.db, w.store.as_ref(), links.as_ref(), true, |_, _| {})
        .await
        .expect("a rebuild takes it too");
    assert!(report.differences.is_empty(), "{:?}", report.differences);
}

async fn a_query_waits_for_its_own_write(backend: Backend) {
    let mut w = World::new(backend).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    for p in roster_projections::all() {
        runner::ensure_installed(&w.db, p.as_ref())
            .await
            .expect("install");
    }
    let tasks = vec![tokio::spawn(runner::run(
        w.db.clone(),
        w.store.clone(),
        roster_projections::all(),
        stopped.clone(),
    ))];
    let org = OrgId::from_uuid(Uuid::now_v7());
    w.run(
        org,
        Actor::System,
        OrgCommand::CreateOrganization {
            org_id: org,
            name: DisplayName::parse("Org").expect("n"),
            shape: OrgShape::Single,
            accounts: vec![],
        },
    )
    .await
    .expect("create");
    let (i, t) = (InvitationId::from_uuid(Uuid::now_v7()), new_token());
    let position = w
        .run(
            org,
            Actor::System,
            invite(i, "x@ex.io", "X", Role::Single(SingleRole::Owner), &t),
        )
        .await
        .expect("invite")
        .expect("written");
    assert!(
        queries::wait_for(&w.db, position, Duration::from_secs(10))
            .await
            .expect("wait"),
        "read models caught up"
    );
    let pending = queries::invitations(&w.db, org).await.expect("invitations");
    assert_eq!(
        pending.len(),
        1,
        "the invitation is visible right after the wait"
    );
    let far = Position(position.0 + (1 << 40));
    assert!(
        !queries::wait_for(&w.db, far, Duration::from_millis(50))
            .await
            .expect("wait"),
        "a bounded wait gives up"
    );
    stop.send_replace(true);
    for t in tasks {
        t.await.expect("runner stops");
    }
}

roster_tests::on_both_backends!(
    the_scripted_story_projects_every_read_model,
    random_workloads_replay_to_identical_read_models,
    a_batch_that_fails_midway_leaves_no_trace,
    a_failing_projection_is_visible_and_resumes_after_a_fix,
    a_changed_read_model_rebuilds_alone_in_the_projector,
    members_page_with_the_current_user_first_and_stable_cursors,
    as_of_answers_match_a_brute_force_replay,
    a_repeated_link_digest_neither_stops_the_projector_nor_a_rebuild,
    a_query_waits_for_its_own_write,
);
