//! The workers against PostgreSQL and a real SMTP server on loopback: one email per
//! send with the right link and expiry, retries through an outage, no retries after
//! a 550, one email and one expiry per send/deadline with two instances, and expiry
//! to the second under a controlled clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use roster_domain::organization::{Actor, OrgCommand, OrgEvent};
use roster_domain::*;
use roster_eventstore::{Clock, EventStore, StreamId};
use roster_tests::smtp::SmtpSink;
use roster_tests::world::Harness;
use roster_tests::{project_everything, Backend};
use roster_workers::{EmailStep, EmailWorker, ExpiryWorker, Mailer};
use uuid::Uuid;

/// The shared harness with a single-account organization whose owner joined.
struct World {
    harness: Harness,
    org: OrgId,
    owner: UserId,
}

impl std::ops::Deref for World {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

impl World {
    async fn new() -> Self {
        let start = Utc
            .with_ymd_and_hms(2026, 3, 3, 9, 0, 0)
            .single()
            .expect("time");
        let (org, owner) = (
            OrgId::from_uuid(Uuid::now_v7()),
            UserId::from_uuid(Uuid::now_v7()),
        );
        let w = Self {
            harness: Harness::new(Backend::Postgres, start).await,
            org,
            owner,
        };
        w.run(
            Actor::System,
            OrgCommand::CreateOrganization {
                org_id: org,
                name: DisplayName::parse("Acme & Co").expect("n"),
                shape: OrgShape::Single,
                accounts: vec![],
            },
        )
        .await;
        let (invitation, send) = w
            .invite_as(
                Actor::System,
                "olive@acme.io",
                "Olive Owner",
                SingleRole::Owner,
            )
            .await;
        let token = w.key.invitation_token(invitation, send);
        w.run(
            Actor::System,
            OrgCommand::AcceptInvite {
                invitation_id: invitation,
                token_digest: token.digest(),
                user_id: owner,
                full_name: PersonName::parse("Olive Owner").expect("n"),
            },
        )
        .await;
        w
    }

    async fn run(&self, actor: Actor, command: OrgCommand) -> Vec<OrgEvent> {
        self.harness
            .execute(self.org, actor, command)
            .await
            .expect("command")
            .events
    }

    async fn invite_as(
        &self,
        actor: Actor,
        email: &str,
        name: &str,
        role: SingleRole,
    ) -> (InvitationId, SendId) {
        let (invitation, send) = (
            InvitationId::from_uuid(Uuid::now_v7()),
            SendId::from_uuid(Uuid::now_v7()),
        );
        let token = self.key.invitation_token(invitation, send);
        self.run(
            actor,
            OrgCommand::InviteUser {
                invitation_id: invitation,
                send_id: send,
                email: Email::parse(email).expect("email"),
                full_name: PersonName::parse(name).expect("name"),
                role: Role::Single(role),
                token_digest: token.digest(),
            },
        )
        .await;
        (invitation, send)
    }

    async fn invite(&self, email: &str) -> (InvitationId, SendId) {
        self.invite_as(Actor::User(self.owner), email, "Ann Lee", SingleRole::Admin)
            .await
    }

    fn email_worker(&self, mailer: Mailer) -> EmailWorker {
        // Each instance has its own command handler, as separate servers would.
        EmailWorker::new(
            self.db.clone(),
            self.store.clone(),
            self.another_instance(),
            Arc::new(self.clock.clone()),
            mailer,
            self.key.clone(),
            "https://portal.example",
            "Roster <roster@portal.example>".parse().expect("from"),
        )
    }

    fn expiry_worker(&self) -> ExpiryWorker {
        ExpiryWorker::new(
            self.db.clone(),
            self.store.clone(),
            self.another_instance(),
            Arc::new(self.clock.clone()),
        )
    }

    async fn events(&self) -> Vec<OrgEvent> {
        let stream = StreamId::new(self.org.stream_name()).expect("stream");
        self.store
            .read_stream(&stream, 1, 10_000)
            .await
            .expect("read")
            .iter()
            .map(|r| decode(&r.event_type, r.schema_version, &r.payload).expect("decode"))
            .collect()
    }

    async fn count(&self, event_type: &str) -> usize {
        self.events()
            .await
            .iter()
            .filter(|e| e.event_type() == event_type)
            .count()
    }
}

fn smtp(sink: &SmtpSink) -> Mailer {
    Mailer::new(Some(&sink.url()), std::env::temp_dir()).expect("mailer")
}

/// What draining did: totals of every step, and the retry asked for, if any.
#[derive(Debug, Default, PartialEq, Eq)]
struct Drained {
    sent: usize,
    skipped: usize,
    failed: usize,
    retrying: usize,
    next_retry: Option<chrono::DateTime<Utc>>,
}

/// Steps until the worker has handled everything committed so far and every
/// retry due. (An `Idle` step may only mean the gap-safe horizon is holding the
/// newest events back behind another test's open transaction: wait it out.)
async fn drain(worker: &EmailWorker, store: &dyn EventStore) -> Drained {
    let mut total = Drained::default();
    let head = store.head().await.expect("head");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match worker.step().await.expect("step") {
            EmailStep::Idle { next_retry } => {
                total.next_retry = next_retry;
                if worker.position().await.expect("position") >= head
                    || std::time::Instant::now() > deadline
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            EmailStep::Progressed {
                sent,
                skipped,
                failed,
                retrying,
            } => {
                total.sent += sent;
                total.skipped += skipped;
                total.failed += failed;
                total.retrying += retrying;
            }
        }
    }
    total
}

/// Appends to `stream` an invitation this build cannot read, as a bad migration
/// or a hand edit leaves.
async fn garbled_invitation(
    store: &dyn EventStore,
    stream: &StreamId,
) -> roster_eventstore::Appended {
    store
        .append(
            stream,
            roster_eventstore::ExpectedVersion::Any,
            vec![roster_eventstore::NewEvent {
                event_id: Uuid::now_v7(),
                event_type: "UserInvited".to_owned(),
                schema_version: 1,
                payload: serde_json::json!({ "email": 42 }),
                metadata: None,
            }],
            &roster_eventstore::Metadata::default(),
        )
        .await
        .expect("a garbled invitation")
}

/// Steps until a step fails, and returns why. (A step that succeeds may only mean
/// the gap-safe horizon still holds the newest events back behind another test's
/// open transaction: once an event is visible it stays so.)
async fn first_error<
    T: std::fmt::Debug,
    F: std::future::Future<Output = Result<T, roster_workers::WorkerError>>,
>(
    mut step: impl FnMut() -> F,
) -> roster_workers::WorkerError {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match step().await {
            Err(e) => return e,
            Ok(done) => assert!(
                std::time::Instant::now() < deadline,
                "the sender stops at the event it cannot read, yet stepped: {done:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The message's text body with quoted-printable soft breaks undone.
fn body(m: &roster_tests::smtp::Received) -> String {
    m.data.replace("=\r\n", "").replace("=3D", "=")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_current_send_gets_one_email_with_its_own_link_and_deadline() {
    let w = World::new().await;
    let sink = SmtpSink::start().await.expect("smtp");
    let worker = w.email_worker(smtp(&sink));
    let (ann, first_send) = w.invite("ann@example.com").await;
    drain(&worker, w.store.as_ref()).await;
    let messages = sink.messages();
    assert_eq!(
        messages.len(),
        1,
        "the owner had already joined; only Ann's email goes out"
    );
    let first = &messages[0];
    assert_eq!(first.to, ["<ann@example.com>"]);
    let link = format!(
        "https://portal.example/invitations/{}",
        w.key.invitation_token(ann, first_send).expose()
    );
    assert!(
        body(first).contains(&link),
        "the email carries the link of this send:\n{}",
        first.data
    );
    assert!(
        body(first).contains("2026-03-03 09:15:00 UTC"),
        "and its exact expiry"
    );
    assert!(body(first).contains("Olive Owner invited you to join Acme & Co"));
    assert!(
        first.data.contains("Content-Type: text/html"),
        "plain text and HTML parts"
    );
    assert_eq!(
        first.header("Message-ID"),
        Some(format!("<invitation-{first_send}@portal.example>"))
    );

    // A resend gets its own email and link; a send cancelled before the worker reaches it gets none.
    w.clock.advance(chrono::Duration::minutes(5));
    let resent = w
        .run(
            Actor::User(w.owner),
            OrgCommand::ResendInvite {
                invitation_id: ann,
                send_id: SendId::from_uuid(Uuid::now_v7()),
                token_digest: TokenDigest::from_bytes([0; 32]),
            },
        )
        .await;
    let OrgEvent::InvitationResent(r) = &resent[0] else {
        panic!("resent")
    };
    let (bob, _) = w.invite("bob@example.com").await;
    w.run(
        Actor::User(w.owner),
        OrgCommand::CancelInvite { invitation_id: bob },
    )
    .await;
    drain(&worker, w.store.as_ref()).await;
    let messages = sink.messages();
    assert_eq!(
        messages.len(),
        2,
        "{:?}",
        messages.iter().map(|m| m.to.clone()).collect::<Vec<_>>()
    );
    assert_eq!(
        messages[1].header("Message-ID"),
        Some(format!("<invitation-{}@portal.example>", r.send_id))
    );
    assert_eq!(w.count("InvitationEmailSent").await, 2);
    assert_eq!(
        drain(&worker, w.store.as_ref()).await.sent,
        0,
        "nothing is sent twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_is_retried_and_every_email_arrives_once() {
    let w = World::new().await;
    let mut sink = SmtpSink::start().await.expect("smtp");
    let worker = w.email_worker(smtp(&sink));
    sink.stop();
    w.invite("ann@example.com").await;
    let step = drain(&worker, w.store.as_ref()).await;
    let now = roster_eventstore::Clock::now(&w.clock);
    assert_eq!(step.retrying, 1, "{step:?}");
    assert!(
        matches!(step.next_retry, Some(due) if due >= now + chrono::Duration::seconds(1)),
        "the retry waits its backoff: {step:?}"
    );
    let failed: Vec<bool> = w
        .events()
        .await
        .iter()
        .filter_map(|e| match e {
            OrgEvent::InvitationEmailFailed(f) => Some(f.permanent),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        [false],
        "the transient failure is recorded, to be retried"
    );
    sink.restart().await.expect("restart");
    assert!(
        matches!(worker.step().await.expect("step"), EmailStep::Idle { .. }),
        "not before its due time"
    );
    w.clock.advance(chrono::Duration::seconds(2));
    assert!(
        matches!(
            worker.step().await.expect("step"),
            EmailStep::Progressed { sent: 1, .. }
        ),
        "delivered once due and the server is back"
    );
    assert_eq!(drain(&worker, w.store.as_ref()).await, Drained::default());
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(w.count("InvitationEmailSent").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recipient_is_recorded_as_failed_without_retries() {
    let w = World::new().await;
    let sink = SmtpSink::start().await.expect("smtp");
    sink.refuse_recipients(true);
    let worker = w.email_worker(smtp(&sink));
    let (ann, _) = w.invite("ann@example.com").await;
    assert_eq!(
        drain(&worker, w.store.as_ref()).await,
        Drained {
            failed: 1,
            skipped: 1,
            ..Drained::default()
        },
        "no retry after a 550 (the owner had joined: skipped)"
    );
    let failures: Vec<(bool, String)> = w
        .events()
        .await
        .iter()
        .filter_map(|e| match e {
            OrgEvent::InvitationEmailFailed(f) => Some((f.permanent, f.reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].0 && failures[0].1.contains("550"),
        "{failures:?}"
    );
    project_everything(&w.db, w.store.as_ref())
        .await
        .expect("project");
    let pending = roster_projections::queries::invitations(&w.db, w.org)
        .await
        .expect("pending");
    let row = pending
        .iter()
        .find(|i| i.invitation_id == ann)
        .expect("row");
    assert_eq!(
        row.delivery, "failed",
        "the pending list shows the delivery state"
    );
    assert_eq!(sink.messages().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_invitation_emails_are_in_flight_at_once() {
    let w = World::new().await;
    let sink = SmtpSink::start().await.expect("smtp");
    let worker = w.email_worker(smtp(&sink));
    for n in 0..6 {
        w.invite(&format!("ann{n}@example.com")).await;
    }
    // The sender reads gap-safely: another test's open transaction on this
    // PostgreSQL can hold the newest events back for a moment, and a step that
    // saw only one send would hold one email. Wait until all six are readable.
    let head = w.store.head().await.expect("head");
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let seen = w
                .store
                .read_all(roster_eventstore::Position::START, 1_000)
                .await
                .expect("read");
            if seen.last().is_some_and(|e| e.global_position >= head) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the invitations become readable");
    sink.hold_messages(true);
    let step = tokio::spawn(async move {
        let outcome = worker.invitations.step().await;
        (worker, outcome)
    });
    // One at a time, a second message never waits beside the first.
    let overlapped = tokio::time::timeout(Duration::from_secs(20), async {
        while sink.most_held_at_once() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    sink.hold_messages(false);
    let (worker, outcome) = step.await.expect("step");
    assert!(overlapped.is_ok(), "the sender sent one email at a time");
    outcome.expect("step");
    drain(&worker, w.store.as_ref()).await;
    let mut to: Vec<String> = sink.messages().iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 6, "each invitation mailed: {to:?}");
    let sent = w
        .events()
        .await
        .iter()
        .filter(|e| matches!(e, OrgEvent::InvitationEmailSent(_)))
        .count();
    assert_eq!(
        sent, 6,
        "each outcome recorded (the owner had joined: skipped)"
    );
    // The batch's outcomes went out in one append (one transaction: positions
    // share their transaction part), each event still naming its own cause.
    let log = w
        .store
        .read_all(roster_eventstore::Position::START, 1_000)
        .await
        .expect("log");
    let invited: std::collections::HashMap<String, Uuid> = log
        .iter()
        .filter(|r| r.event_type == "UserInvited")
        .map(|r| (r.payload["invitation_id"].to_string(), r.event_id))
        .collect();
    let outcomes: Vec<_> = log
        .iter()
        .filter(|r| r.event_type == "InvitationEmailSent")
        .collect();
    let transactions: std::collections::HashSet<u64> =
        outcomes.iter().map(|r| r.global_position.0 >> 20).collect();
    assert_eq!(transactions.len(), 1, "one append for the organization");
    for r in outcomes {
        assert_eq!(
            r.metadata.causation_id,
            invited
                .get(&r.payload["invitation_id"].to_string())
                .copied(),
            "each outcome is caused by its own invitation"
        );
        assert_eq!(r.metadata.actor.as_deref(), Some("email-worker"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_send_one_email_per_send_and_expire_each_invitation_once() {
    let w = World::new().await;
    let sink = SmtpSink::start().await.expect("smtp");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let a = tokio::spawn(w.email_worker(smtp(&sink)).run(stopped.clone()));
    let b = tokio::spawn(w.email_worker(smtp(&sink)).run(stopped.clone()));
    for n in 0..5 {
        w.invite(&format!("p{n}@example.com")).await;
    }
    tokio::time::timeout(Duration::from_secs(30), async {
        while sink.messages().len() < 5 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("all five emails arrive");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.messages().len(),
        5,
        "no duplicates from the second instance"
    );
    stop.send_replace(true);
    a.await.expect("a");
    b.await.expect("b");
    assert_eq!(w.count("InvitationEmailSent").await, 5);

    // Expiry from two instances at once: one InvitationExpired per deadline.
    w.clock.advance(chrono::Duration::minutes(16));
    project_everything(&w.db, w.store.as_ref())
        .await
        .expect("project");
    let (x, y) = (w.expiry_worker(), w.expiry_worker());
    let (rx, ry) = tokio::join!(x.step(), y.step());
    let (rx, ry) = (rx.expect("x"), ry.expect("y"));
    assert_eq!(rx.expired + ry.expired, 5, "{rx:?} {ry:?}");
    assert_eq!(w.count("InvitationExpired").await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controlled_clock_drives_expiry_to_the_second_and_a_resend_moves_the_deadline() {
    let w = World::new().await;
    let sent_at = w.clock.now();
    let (ann, _) = w.invite("ann@example.com").await;
    let worker = w.expiry_worker();
    let deadline = sent_at + chrono::Duration::minutes(15);

    w.clock.set(deadline - chrono::Duration::seconds(1));
    project_everything(&w.db, w.store.as_ref())
        .await
        .expect("project");
    let step = worker.step().await.expect("step");
    assert_eq!(step.expired, 0, "one second early: nothing");
    assert_eq!(step.next_deadline, Some(deadline), "it knows when to wake");

    w.clock.set(deadline);
    let step = worker.step().await.expect("step");
    assert_eq!(step.expired, 1, "at the deadline: expired");
    let expired: Vec<_> = w
        .events()
        .await
        .into_iter()
        .filter_map(|e| match e {
            OrgEvent::InvitationExpired(x) => Some(x),
            _ => None,
        })
        .collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(
        (expired[0].invitation_id, expired[0].expired_at),
        (ann, deadline)
    );

    // A resend restarts the clock; the old deadline no longer applies.
    w.run(
        Actor::User(w.owner),
        OrgCommand::ResendInvite {
            invitation_id: ann,
            send_id: SendId::from_uuid(Uuid::now_v7()),
            token_digest: TokenDigest::from_bytes([1; 32]),
        },
    )
    .await;
    project_everything(&w.db, w.store.as_ref())
        .await
        .expect("project");
    w.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(worker.step().await.expect("step").expired, 0);
    w.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(worker.step().await.expect("step").expired, 1);
    assert_eq!(w.count("InvitationExpired").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_sharing_a_deadline_expire_page_after_page_each_exactly_once() {
    let w = World::new().await;
    for i in 0..7 {
        w.invite(&format!("guest{i}@example.com")).await;
    }
    project_everything(&w.db, w.store.as_ref())
        .await
        .expect("project");
    let mut worker = w.expiry_worker();
    worker.page_size = 3;
    w.clock.advance(chrono::Duration::minutes(16));
    let step = worker.step().await.expect("step");
    assert_eq!(
        (step.expired, step.unchanged),
        (7, 0),
        "three pages in one step"
    );
    assert_eq!(w.count("InvitationExpired").await, 7);
    // The deadlines read model has not caught up: the same invitations are still
    // listed, and expiring them again records nothing.
    let again = worker.step().await.expect("step");
    assert_eq!((again.expired, again.unchanged), (0, 7));
    assert_eq!(w.count("InvitationExpired").await, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_recipients_wait_their_turn_without_holding_back_anyone_else() {
    let w = World::new().await;
    let sink = SmtpSink::start().await.expect("smtp");
    let worker = w.email_worker(smtp(&sink));
    for i in 0..5 {
        let busy = format!("busy{i}@slow.example");
        sink.defer_recipient(&busy);
        w.invite(&busy).await;
    }
    w.invite("ann@example.com").await;
    let first = drain(&worker, w.store.as_ref()).await;
    assert_eq!((first.sent, first.retrying), (1, 5), "{first:?}");
    assert_eq!(sink.messages().len(), 1, "Ann's email went out at once");
    assert!(
        first.next_retry.is_some(),
        "each deferred send has its own due time"
    );
    // Restarting keeps the queue: a fresh worker picks the retries up when due.
    let restarted = w.email_worker(smtp(&sink));
    w.clock.advance(chrono::Duration::seconds(2));
    let again = drain(&restarted, w.store.as_ref()).await;
    assert_eq!(
        (again.sent, again.retrying),
        (0, 5),
        "retried, deferred again: {again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_sender_cannot_read_stops_it_there_instead_of_being_skipped() {
    let w = World::new().await;
    let sink = SmtpSink::start().await.expect("smtp");
    let worker = w.email_worker(smtp(&sink));
    drain(&worker, w.store.as_ref()).await;
    let mailed = sink.messages().len();
    // Another organization's stream, so this one's commands still load.
    let stream = StreamId::new(OrgId::from_uuid(Uuid::now_v7()).stream_name()).expect("stream");
    let bad = garbled_invitation(w.store.as_ref(), &stream).await;
    w.invite("after@example.com").await;
    for _ in 0..2 {
        let refused = first_error(|| worker.step()).await;
        let said = refused.to_string();
        assert!(
            said.contains(&format!("event {}", bad.last_position().0))
                && said.contains("cannot be read"),
            "{said}"
        );
    }
    assert!(
        worker.position().await.expect("position") < bad.last_position(),
        "the checkpoint stays before the event"
    );
    assert_eq!(
        sink.messages().len(),
        mailed,
        "nothing after it is sent out of order"
    );
}

/// Invitations and password resets have a sender each: an invitation event the
/// invitation sender cannot read stops it there, and a reset asked for after it
/// is still mailed, once.
#[tokio::test]
async fn a_stuck_invitation_sender_does_not_hold_back_password_resets() {
    let w = World::new().await;
    let sink = SmtpSink::start().await.expect("smtp");
    let senders = w.email_worker(smtp(&sink));
    drain(&senders, w.store.as_ref()).await;
    let mailed = sink.messages().len();
    let garbled = StreamId::new(OrgId::from_uuid(Uuid::now_v7()).stream_name()).expect("stream");
    garbled_invitation(w.store.as_ref(), &garbled).await;
    let user = UserId::from_uuid(Uuid::now_v7());
    let reset_id = Uuid::now_v7();
    let now = w.clock.now();
    let (event_type, schema_version, payload) =
        roster_domain::encode(&roster_domain::user::UserEvent::PasswordResetRequested {
            user_id: user,
            email: Email::parse("forgetful@example.com").expect("email"),
            reset_id,
            requested_at: now,
            expires_at: now + chrono::Duration::minutes(30),
        })
        .expect("encode");
    let asked = w
        .store
        .append(
            &StreamId::new(user.stream_name()).expect("stream"),
            roster_eventstore::ExpectedVersion::Any,
            vec![roster_eventstore::NewEvent {
                event_id: Uuid::now_v7(),
                event_type: event_type.to_owned(),
                schema_version,
                payload,
                metadata: None,
            }],
            &roster_eventstore::Metadata::default(),
        )
        .await
        .expect("a reset asked for");
    first_error(|| senders.invitations.step()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while senders.resets.position().await.expect("position") < asked.last_position() {
        assert!(
            std::time::Instant::now() < deadline,
            "the reset sender reaches the reset"
        );
        senders
            .resets
            .step()
            .await
            .expect("the reset sender goes on");
    }
    // Stepping again sends nothing twice.
    senders.resets.step().await.expect("step");
    let messages = sink.messages();
    let resets: Vec<_> = messages[mailed..]
        .iter()
        .filter(|m| m.data.contains(&format!("reset-{reset_id}@")))
        .collect();
    assert_eq!(resets.len(), 1, "the reset link is mailed once");
    assert_eq!(
        messages.len(),
        mailed + 1,
        "and nothing else: the invitation sender is still stopped"
    );
}
