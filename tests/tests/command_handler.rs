//! The command handler against the real stores: concurrent commands on one
//! organization, from one or two server instances, either succeed or get a clean
//! refusal or conflict, and nothing is half-written.

use roster_tests::Backend;
use std::sync::Arc;

use roster_commands::{HandleError, Handler, HandlerConfig, OrgAggregate, SystemClock};
use roster_domain::organization::{replay, Actor, DomainError, Envelope, OrgCommand, OrgEvent};
use roster_domain::*;
use roster_eventstore::{EventStore, Metadata, StreamId};
use uuid::Uuid;

type OrgHandler = Handler<OrgAggregate>;

fn handler(store: &Arc<dyn EventStore>) -> Arc<OrgHandler> {
    Arc::new(Handler::new(
        store.clone(),
        Arc::new(SystemClock),
        HandlerConfig::default(),
    ))
}

fn invite(email: &str) -> Envelope {
    Envelope {
        actor: Actor::System,
        command: OrgCommand::InviteUser {
            invitation_id: InvitationId::from_uuid(Uuid::now_v7()),
            send_id: SendId::from_uuid(Uuid::now_v7()),
            email: Email::parse(email).expect("email"),
            full_name: PersonName::parse("Some One").expect("name"),
            role: Role::Single(SingleRole::Standard),
            token_digest: TokenDigest::from_bytes([7; 32]),
        },
    }
}

async fn new_org(h: &OrgHandler) -> OrgId {
    let org = OrgId::from_uuid(Uuid::now_v7());
    let create = Envelope {
        actor: Actor::System,
        command: OrgCommand::CreateOrganization {
            org_id: org,
            name: DisplayName::parse("Acme").expect("name"),
            shape: OrgShape::Single,
            accounts: vec![],
        },
    };
    h.execute(org, &create, &Metadata::default())
        .await
        .expect("created");
    org
}

/// Every event in the stream, decoded, with versions checked to be 1, 2, 3, …
async fn stored_events(store: &Arc<dyn EventStore>, org: OrgId) -> Vec<OrgEvent> {
    let stream = StreamId::new(org.stream_name()).expect("stream");
    let recorded = store.read_stream(&stream, 1, 100_000).await.expect("read");
    for (i, r) in recorded.iter().enumerate() {
        assert_eq!(
            r.stream_version,
            i as u64 + 1,
            "versions must be contiguous"
        );
    }
    recorded
        .iter()
        .map(|r| decode::<OrgEvent>(&r.event_type, r.schema_version, &r.payload).expect("decode"))
        .collect()
}

async fn two_instances_inviting_concurrently_lose_nothing(backend: Backend) {
    let store = roster_tests::store(backend).await.expect("store");
    let (a, b) = (handler(&store), handler(&store));
    let org = new_org(&a).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let h = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            h.execute(
                org,
                &invite(&format!("person{i}@example.com")),
                &Metadata::default(),
            )
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(outcome) => {
                assert_eq!(outcome.events.len(), 1);
                assert!(outcome.position().is_some());
                ok += 1;
            }
            Err(HandleError::Conflict { .. }) => {}
            Err(other) => panic!("unexpected failure: {other}"),
        }
    }
    assert!(ok >= 1);
    let events = stored_events(&store, org).await;
    let invited = events
        .iter()
        .filter(|e| matches!(e, OrgEvent::UserInvited(_)))
        .count();
    assert_eq!(invited, ok, "exactly the successful commands are recorded");
    let state = replay(&events).expect("org");
    assert_eq!(state.invitations.len(), ok);
}

async fn the_same_person_invited_from_two_instances_at_once_is_invited_once(backend: Backend) {
    let store = roster_tests::store(backend).await.expect("store");
    let (a, b) = (handler(&store), handler(&store));
    let org = new_org(&a).await;
    // Both caches now hold the org, so each decides on state that may be stale.
    b.load(org).await.expect("warm b");
    let (first, second, meta) = (
        invite("dup@example.com"),
        invite("DUP@example.com"),
        Metadata::default(),
    );
    let (ra, rb) = tokio::join!(
        a.execute(org, &first, &meta),
        b.execute(org, &second, &meta)
    );
    let results = [ra, rb];
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "one invitation, not two: {results:?}");
    let loser = results
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("one refusal");
    assert!(
        matches!(
            loser,
            HandleError::Rejected(DomainError::AlreadyInvited { .. })
        ),
        "the loser re-decides on fresh state and is refused by the rule: {loser:?}"
    );
    let events = stored_events(&store, org).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, OrgEvent::UserInvited(_)))
            .count(),
        1
    );
}

async fn a_stale_cache_catches_up_before_deciding_again(backend: Backend) {
    let store = roster_tests::store(backend).await.expect("store");
    let (a, b) = (handler(&store), handler(&store));
    let org = new_org(&a).await;
    b.load(org).await.expect("warm b");
    a.execute(org, &invite("first@example.com"), &Metadata::default())
        .await
        .expect("a invites");
    // b's cache is one event behind; its append conflicts, it catches up, decides again.
    let refused = b
        .execute(org, &invite("first@example.com"), &Metadata::default())
        .await;
    assert!(matches!(
        refused,
        Err(HandleError::Rejected(DomainError::AlreadyInvited { .. }))
    ));
    let outcome = b
        .execute(org, &invite("second@example.com"), &Metadata::default())
        .await
        .expect("b invites");
    assert_eq!(outcome.version, 3);
}

async fn a_refusal_or_a_no_op_writes_nothing(backend: Backend) {
    let store = roster_tests::store(backend).await.expect("store");
    let h = handler(&store);
    let org = new_org(&h).await;
    let before = store.head().await.expect("head");
    let cancel_unknown = Envelope {
        actor: Actor::System,
        command: OrgCommand::CancelInvite {
            invitation_id: InvitationId::from_uuid(Uuid::now_v7()),
        },
    };
    let err = h.execute(org, &cancel_unknown, &Metadata::default()).await;
    assert!(matches!(
        err,
        Err(HandleError::Rejected(DomainError::InvitationNotFound))
    ));
    let outcome = h
        .execute(org, &invite("x@example.com"), &Metadata::default())
        .await
        .expect("invite");
    let OrgEvent::UserInvited(invited) = &outcome.events[0] else {
        panic!("expected UserInvited")
    };
    let expire_early = Envelope {
        actor: Actor::System,
        command: OrgCommand::ExpireInvite {
            invitation_id: invited.invitation_id,
        },
    };
    let noop = h
        .execute(org, &expire_early, &Metadata::default())
        .await
        .expect("no-op");
    assert!(noop.events.is_empty() && noop.appended.is_none());
    assert_eq!(noop.version, 2);
    let after = store.head().await.expect("head");
    assert!(after > before);
    assert_eq!(stored_events(&store, org).await.len(), 2);
}

async fn ids_that_do_not_exist_take_no_place_in_the_cache(backend: Backend) {
    let store = roster_tests::store(backend).await.expect("store");
    let h = handler(&store);
    let org = new_org(&h).await;
    assert_eq!(h.cached(), 1);
    for _ in 0..200 {
        let ghost = OrgId::from_uuid(Uuid::now_v7());
        assert!(h.inspect(ghost, |o| o.is_none()).await.expect("read"));
        let refused = h
            .execute(ghost, &invite("x@ghost.io"), &Metadata::default())
            .await;
        assert!(matches!(
            refused,
            Err(HandleError::Rejected(DomainError::OrganizationNotFound))
        ));
    }
    assert_eq!(h.cached(), 1, "only the real organization is cached");
    assert!(h.inspect(org, |o| o.is_some()).await.expect("read"));
}

async fn many_commands_record_in_one_append_each_with_its_metadata_and_refusals_are_named(
    backend: Backend,
) {
    let store = roster_tests::store(backend).await.expect("store");
    let (a, b) = (handler(&store), handler(&store));
    let org = new_org(&a).await;
    b.load(org).await.expect("warm b");
    a.execute(org, &invite("carol@example.com"), &Metadata::default())
        .await
        .expect("a invites Carol");
    // b's cache is one event behind: its append conflicts, it catches up and
    // decides the whole list again, now refusing Carol (already invited).
    let batch = [
        invite("dan@example.com"),
        invite("carol@example.com"),
        invite("dan@example.com"),
        invite("erin@example.com"),
    ];
    // Erin's invitation carries metadata of its own; the rest take the append's.
    let own = Metadata {
        actor: Some("erin's cause".into()),
        causation_id: Some(Uuid::now_v7()),
        ..Metadata::default()
    };
    let each: Vec<_> = batch
        .iter()
        .enumerate()
        .map(|(k, c)| (c, (k == 3).then_some(&own)))
        .collect();
    let (outcome, refused) = b
        .execute_each(org, &each, &Metadata::default())
        .await
        .expect("batch");
    let refused: Vec<usize> = refused.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        refused,
        [1, 2],
        "the refusals of the attempt that was recorded, not of the stale one"
    );
    let invited: Vec<String> = outcome
        .events
        .iter()
        .map(|e| match e {
            OrgEvent::UserInvited(i) => i.email.to_string(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(invited, ["dan@example.com", "erin@example.com"]);
    let appended = outcome.appended.expect("one append");
    assert_eq!(appended.written.len(), 2, "both events in one append");
    assert_eq!(outcome.version, 4);
    assert_eq!(stored_events(&store, org).await.len(), 4);
    let stream = roster_eventstore::StreamId::new(org.stream_name()).expect("stream");
    let recorded = store.read_stream(&stream, 3, 10).await.expect("read");
    assert_eq!(
        recorded[0].metadata,
        Metadata::default(),
        "Dan's: the append's"
    );
    assert_eq!(recorded[1].metadata, own, "Erin's: its own");

    let nothing = b
        .execute_all(org, &[invite("dan@example.com")], &Metadata::default())
        .await
        .expect("all refused");
    assert!(nothing.events.is_empty() && nothing.appended.is_none());
}

roster_tests::on_both_backends!(
    many_commands_record_in_one_append_each_with_its_metadata_and_refusals_are_named,
    ids_that_do_not_exist_take_no_place_in_the_cache,
    two_instances_inviting_concurrently_lose_nothing,
    the_same_person_invited_from_two_instances_at_once_is_invited_once,
    a_stale_cache_catches_up_before_deciding_again,
    a_refusal_or_a_no_op_writes_nothing,
);
