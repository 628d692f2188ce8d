//! One conformance suite for every event store backend: each case is written once
//! and run against PostgreSQL and SQLite.

use std::sync::Arc;
use std::time::Duration;

use roster_eventstore::{
    EventStore, ExpectedVersion, Metadata, NewEvent, Position, Source, StoreError, StreamId,
    Subscription, SubscriptionOptions,
};
use serde_json::json;
use uuid::Uuid;

type Store = Arc<dyn EventStore>;

fn stream(name: &str) -> StreamId {
    StreamId::new(format!("{name}-{}", Uuid::now_v7())).expect("valid stream name")
}

fn event(n: u64) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "Numbered".into(),
        schema_version: 1,
        payload: json!({ "n": n }),
        metadata: None,
    }
}

fn events(range: std::ops::Range<u64>) -> Vec<NewEvent> {
    range.map(event).collect()
}

fn meta() -> Metadata {
    Metadata {
        actor: Some("user-1".into()),
        correlation_id: Some(Uuid::now_v7()),
        causation_id: None,
        request_id: Some("req-1".into()),
        source: Source::Cli,
    }
}

/// Generous bound so a broken subscription fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

async fn appends_to_a_new_stream_number_versions_from_one(store: Store) {
    let s = stream("org");
    let metadata = meta();
    let appended = store
        .append(&s, ExpectedVersion::NoStream, events(0..3), &metadata)
        .await
        .expect("append");
    let versions: Vec<u64> = appended.written.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, vec![1, 2, 3]);
    assert!(appended.written.windows(2).all(|w| w[0].1 < w[1].1));
    assert_eq!(appended.last_version(), 3);

    let read = store.read_stream(&s, 1, 100).await.expect("read");
    assert_eq!(read.len(), 3);
    for (i, e) in read.iter().enumerate() {
        assert_eq!(e.stream_id, s);
        assert_eq!(e.stream_version, i as u64 + 1);
        assert_eq!(e.payload, json!({ "n": i }));
        assert_eq!(e.metadata, metadata);
        assert_eq!(e.event_type, "Numbered");
        assert_eq!(e.schema_version, 1);
        assert_eq!(e.global_position, appended.written[i].1);
    }
    assert_eq!(store.stream_version(&s).await.expect("version"), 3);
}

/// An event with metadata of its own keeps it; the others take the append's;
/// the hash chain covers each event's own (a worker recording many causes'
/// outcomes in one append).
async fn an_event_may_carry_metadata_of_its_own(store: Store) {
    let s = stream("org");
    let shared = meta();
    let own = Metadata {
        actor: Some("email-worker".into()),
        causation_id: Some(Uuid::now_v7()),
        source: Source::Worker,
        ..Metadata::default()
    };
    let mut batch = events(0..3);
    batch[1].metadata = Some(own.clone());
    store
        .append(&s, ExpectedVersion::NoStream, batch, &shared)
        .await
        .expect("append");
    let mut more = events(3..4);
    more[0].metadata = Some(own.clone());
    let (_, open) = store
        .append_uncommitted(&s, ExpectedVersion::Exact(3), more, &shared)
        .await
        .expect("uncommitted");
    open.commit().await.expect("commit");
    let read = store.read_stream(&s, 1, 10).await.expect("read");
    let kept: Vec<&Metadata> = read.iter().map(|e| &e.metadata).collect();
    assert_eq!(kept, [&shared, &own, &shared, &own]);
    let report = roster_eventstore::integrity::verify(store.as_ref(), |_| {})
        .await
        .expect("verify");
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

async fn exact_version_appends_continue_the_stream(store: Store) {
    let s = stream("org");
    store
        .append(&s, ExpectedVersion::NoStream, events(0..2), &meta())
        .await
        .expect("first");
    let second = store
        .append(&s, ExpectedVersion::Exact(2), events(2..4), &meta())
        .await
        .expect("second");
    assert_eq!(
        second.written.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        vec![3, 4]
    );
}

async fn a_stale_expected_version_is_a_typed_conflict_and_writes_nothing(store: Store) {
    let s = stream("org");
    store
        .append(&s, ExpectedVersion::NoStream, events(0..2), &meta())
        .await
        .expect("first");
    let err = store
        .append(&s, ExpectedVersion::Exact(1), events(9..11), &meta())
        .await
        .expect_err("stale version must conflict");
    match err {
        StoreError::Conflict {
            stream: st,
            expected,
            actual,
        } => {
            assert_eq!(st, s);
            assert_eq!(expected, ExpectedVersion::Exact(1));
            assert_eq!(actual, 2);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.stream_version(&s).await.expect("version"), 2);
}

async fn an_expected_version_ahead_of_the_stream_conflicts_instead_of_leaving_a_gap(store: Store) {
    let s = stream("org");
    store
        .append(&s, ExpectedVersion::NoStream, events(0..1), &meta())
        .await
        .expect("first");
    let err = store
        .append(&s, ExpectedVersion::Exact(5), events(1..2), &meta())
        .await
        .expect_err("future version must conflict");
    assert!(
        matches!(err, StoreError::Conflict { actual: 1, .. }),
        "{err:?}"
    );
}

async fn no_stream_on_an_existing_stream_conflicts(store: Store) {
    let s = stream("org");
    store
        .append(&s, ExpectedVersion::NoStream, events(0..1), &meta())
        .await
        .expect("first");
    let err = store
        .append(&s, ExpectedVersion::NoStream, events(1..2), &meta())
        .await
        .expect_err("stream exists");
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: ExpectedVersion::NoStream,
                actual: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

async fn any_version_appends_whatever_the_stream_holds(store: Store) {
    let s = stream("org");
    store
        .append(&s, ExpectedVersion::Any, events(0..1), &meta())
        .await
        .expect("on empty");
    let appended = store
        .append(&s, ExpectedVersion::Any, events(1..3), &meta())
        .await
        .expect("again");
    assert_eq!(appended.last_version(), 3);
}

async fn an_empty_append_is_refused(store: Store) {
    let s = stream("org");
    let err = store
        .append(&s, ExpectedVersion::Any, Vec::new(), &meta())
        .await
        .expect_err("empty append");
    assert!(matches!(err, StoreError::EmptyAppend), "{err:?}");
    assert_eq!(store.stream_version(&s).await.expect("version"), 0);
}

async fn a_duplicate_event_id_fails_the_whole_append(store: Store) {
    let s = stream("org");
    let first = event(0);
    store
        .append(&s, ExpectedVersion::NoStream, vec![first.clone()], &meta())
        .await
        .expect("first");
    let other = stream("org");
    let err = store
        .append(
            &other,
            ExpectedVersion::NoStream,
            vec![event(1), first.clone()],
            &meta(),
        )
        .await
        .expect_err("duplicate id");
    assert!(
        matches!(err, StoreError::DuplicateEventId(id) if id == first.event_id),
        "{err:?}"
    );
    assert_eq!(
        store.stream_version(&other).await.expect("version"),
        0,
        "all or nothing"
    );
}

async fn large_and_unicode_payloads_round_trip(store: Store) {
    let s = StreamId::new(format!("org-ünïcødé-🙂-{}", Uuid::now_v7())).expect("stream");
    let big = "x".repeat(1024 * 1024);
    let unicode = "Zoë Ångström — 北京 — 🙂 — \u{202e}rtl — \"quoted\" \\ back";
    let payloads = vec![
        json!({ "blob": big }),
        json!({ "name": unicode, "nested": [1, { "k": null }] }),
    ];
    let batch: Vec<NewEvent> = payloads
        .iter()
        .map(|p| NewEvent {
            event_id: Uuid::now_v7(),
            event_type: "Blob".into(),
            schema_version: 2,
            payload: p.clone(),
            metadata: None,
        })
        .collect();
    store
        .append(&s, ExpectedVersion::NoStream, batch, &meta())
        .await
        .expect("append");
    let read = store.read_stream(&s, 1, 10).await.expect("read");
    assert_eq!(
        read.iter().map(|e| e.payload.clone()).collect::<Vec<_>>(),
        payloads
    );
    assert_eq!(read[0].stream_id, s);
    assert_eq!(read[1].schema_version, 2);
}

async fn read_all_returns_every_stream_in_global_order_and_pages(store: Store) {
    let start = store.head().await.expect("head");
    let (a, b) = (stream("a"), stream("b"));
    let mut expected = Vec::new();
    for round in 0..5u64 {
        for s in [&a, &b] {
            let e = event(round);
            expected.push(e.event_id);
            store
                .append(s, ExpectedVersion::Any, vec![e], &meta())
                .await
                .expect("append");
        }
    }
    // read_all is gap-safe: on PostgreSQL a transaction still open anywhere in the
    // cluster may hold the newest events back for a moment, so every read must be a
    // prefix of the expected order, and the whole arrives soon.
    let all = tokio::time::timeout(PATIENCE, async {
        loop {
            let all = store.read_all(start, 100).await.expect("read all");
            let ids: Vec<Uuid> = all.iter().map(|e| e.event_id).collect();
            assert_eq!(ids[..], expected[..ids.len()], "a read is always a prefix");
            if ids.len() == expected.len() {
                break all;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("every event becomes readable");
    assert!(all
        .windows(2)
        .all(|w| w[0].global_position < w[1].global_position));

    let mut paged = Vec::new();
    let mut after = start;
    loop {
        let page = store.read_all(after, 3).await.expect("page");
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = last.global_position;
        paged.extend(page.iter().map(|e| e.event_id));
    }
    assert_eq!(paged, expected);
    assert_eq!(
        store.head().await.expect("head"),
        all[all.len() - 1].global_position
    );
}

async fn read_stream_honours_from_version_and_limit(store: Store) {
    let s = stream("org");
    store
        .append(&s, ExpectedVersion::NoStream, events(0..10), &meta())
        .await
        .expect("append");
    let page = store.read_stream(&s, 4, 3).await.expect("read");
    assert_eq!(
        page.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![4, 5, 6]
    );
    assert!(store
        .read_stream(&s, 11, 3)
        .await
        .expect("past end")
        .is_empty());
    assert!(store
        .read_stream(&stream("none"), 1, 3)
        .await
        .expect("missing")
        .is_empty());
    assert_eq!(
        store
            .stream_version(&stream("none"))
            .await
            .expect("version"),
        0
    );
}

async fn concurrent_writers_on_one_stream_get_one_winner(store: Store) {
    let s = stream("org");
    let mut tasks = Vec::new();
    for n in 0..8 {
        let (store, s) = (store.clone(), s.clone());
        tasks.push(tokio::spawn(async move {
            store
                .append(&s, ExpectedVersion::NoStream, events(n..n + 2), &meta())
                .await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => wins += 1,
            Err(StoreError::Conflict { .. }) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.stream_version(&s).await.expect("version"), 2);
}

async fn a_subscription_catches_up_then_follows_live_commits(store: Store) {
    let start = store.head().await.expect("head");
    let s = stream("org");
    let first = events(0..25);
    let first_ids: Vec<Uuid> = first.iter().map(|e| e.event_id).collect();
    store
        .append(&s, ExpectedVersion::NoStream, first, &meta())
        .await
        .expect("append");

    let options = SubscriptionOptions {
        batch_size: 7,
        ..SubscriptionOptions::default()
    };
    let mut sub = Subscription::new(store.clone(), start, options);
    let mut seen = Vec::new();
    for _ in 0..25 {
        let e = tokio::time::timeout(PATIENCE, sub.next())
            .await
            .expect("catch-up")
            .expect("event");
        seen.push(e.event_id);
    }
    assert_eq!(seen, first_ids);

    // Live: the subscriber is already waiting when the append lands.
    let waiting = tokio::spawn(async move {
        let e = sub.next().await.expect("live event");
        (e, sub)
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let live = event(99);
    let live_id = live.event_id;
    store
        .append(&s, ExpectedVersion::Exact(25), vec![live], &meta())
        .await
        .expect("append");
    let (e, sub) = tokio::time::timeout(PATIENCE, waiting)
        .await
        .expect("live")
        .expect("task");
    assert_eq!(e.event_id, live_id);
    assert_eq!(sub.position(), e.global_position);
}

async fn a_subscription_starts_after_the_given_position(store: Store) {
    let s = stream("org");
    let appended = store
        .append(&s, ExpectedVersion::NoStream, events(0..5), &meta())
        .await
        .expect("append");
    let after = appended.written[2].1;
    let mut sub = Subscription::new(store.clone(), after, SubscriptionOptions::default());
    let batch = tokio::time::timeout(PATIENCE, sub.next_batch(10))
        .await
        .expect("batch")
        .expect("read");
    assert_eq!(
        batch.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        vec![4, 5]
    );
    assert_eq!(sub.position(), Position(appended.written[4].1 .0));
}

async fn one_transaction_appends_to_two_streams_and_commits_both(store: Store) {
    let (user, org) = (stream("user"), stream("org"));
    let metadata = meta();
    let (first, mut open) = store
        .append_uncommitted(&user, ExpectedVersion::NoStream, events(0..2), &metadata)
        .await
        .expect("first append");
    let second = store
        .append_more(
            &mut open,
            &org,
            ExpectedVersion::NoStream,
            events(2..5),
            &metadata,
        )
        .await
        .expect("a second stream in the same transaction");
    open.commit().await.expect("commit");
    let positions: Vec<Position> = first
        .written
        .iter()
        .chain(&second.written)
        .map(|(_, p)| *p)
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "one order across both appends: {positions:?}"
    );
    let all = store.read_all(Position::START, 1_000).await.expect("read");
    let mine: Vec<Position> = all
        .iter()
        .filter(|e| e.stream_id == user || e.stream_id == org)
        .map(|e| e.global_position)
        .collect();
    assert_eq!(mine, positions, "both committed, in that order");
}

async fn concurrent_appends_each_keep_their_own_outcome(store: Store) {
    let metadata = meta();
    let mut tasks = Vec::new();
    for n in 0..48u64 {
        let (store, metadata) = (store.clone(), metadata.clone());
        tasks.push(tokio::spawn(async move {
            let s = stream("org");
            // Every eighth expects a version the new stream does not have.
            let expected = if n % 8 == 0 {
                ExpectedVersion::Exact(5)
            } else {
                ExpectedVersion::NoStream
            };
            let outcome = store
                .append(&s, expected, events(n * 10..n * 10 + 2), &metadata)
                .await;
            (s, n, outcome)
        }));
    }
    for task in tasks {
        let (s, n, outcome) = task.await.expect("task");
        let stored = store.read_stream(&s, 1, 10).await.expect("read");
        if n % 8 == 0 {
            assert!(
                matches!(outcome, Err(StoreError::Conflict { .. })),
                "{n}: {outcome:?}"
            );
            assert!(stored.is_empty(), "{n}: a conflict writes nothing");
        } else {
            let appended = outcome.expect("append");
            assert_eq!(appended.last_version(), 2, "{n}");
            assert_eq!(stored.len(), 2, "{n}: committed");
        }
    }
}

/// 64 appends at once on `store` take fewer rounds than appends (as `counts`
/// reads them), and every one is stored.
async fn appends_that_meet_share_a_commit(store: Store, counts: impl Fn() -> (u64, u64)) {
    let metadata = meta();
    let mut tasks = Vec::new();
    for n in 0..64u64 {
        let (store, metadata) = (store.clone(), metadata.clone());
        tasks.push(tokio::spawn(async move {
            store
                .append(
                    &stream("org"),
                    ExpectedVersion::NoStream,
                    events(n..n + 1),
                    &metadata,
                )
                .await
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("append");
    }
    let (rounds, carried) = counts();
    assert_eq!(carried, 64);
    assert!(rounds < carried, "{rounds} rounds for {carried} appends");
    let all = store.read_all(Position::START, 1_000).await.expect("read");
    assert_eq!(all.len(), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_appends_that_meet_share_a_commit() {
    let store = roster_eventstore::PgStore::new(roster_tests::fresh_pg_pool().await.expect("pool"))
        .await
        .expect("store");
    let counted = store.clone();
    appends_that_meet_share_a_commit(Arc::new(store), move || counted.group_commits()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_appends_that_meet_share_a_commit() {
    let store =
        roster_eventstore::SqliteStore::new(roster_tests::fresh_sqlite_pool().await.expect("pool"));
    let counted = store.clone();
    appends_that_meet_share_a_commit(Arc::new(store), move || counted.group_commits()).await;
}

/// A rebuild's read (`read_all_raw`) hands out exactly what `read_all` does,
/// whatever the payload holds: escapes, tabs and line breaks inside strings,
/// unicode, metadata or none, events of many streams.
async fn the_raw_read_agrees_with_read_all(store: Store) {
    let start = store.head().await.expect("head");
    let tricky = "tab\there\nnew line \\ back \"quoted\" Zoë 北京 🙂 \u{202e}";
    for (i, metadata) in [meta(), Metadata::default()].into_iter().enumerate() {
        let s = stream(&format!("raw{i}"));
        let batch: Vec<NewEvent> = (0..3u64)
            .map(|n| NewEvent {
                event_id: Uuid::now_v7(),
                event_type: "Tricky".into(),
                schema_version: 2,
                payload: json!({ "n": n, "text": tricky, "nested": [{ "k": null }, 1.5] }),
                metadata: None,
            })
            .collect();
        store
            .append(&s, ExpectedVersion::NoStream, batch, &metadata)
            .await
            .expect("append");
    }
    let plain = store.read_all(start, 100).await.expect("read_all");
    let mut raw = roster_eventstore::RawBatch::default();
    store
        .read_all_raw(start, 100, &mut raw)
        .await
        .expect("read_all_raw");
    assert_eq!(raw.len(), plain.len());
    assert_eq!(raw.len(), 6);
    for (r, p) in raw.iter().zip(&plain) {
        assert_eq!(r.position, p.global_position);
        assert_eq!(r.event_id, p.event_id);
        assert_eq!(r.stream_id, p.stream_id.as_str());
        assert_eq!(r.stream_version, p.stream_version);
        assert_eq!(r.event_type, p.event_type);
        assert_eq!(r.schema_version, p.schema_version);
        assert_eq!(r.recorded_at, p.recorded_at);
        let payload: serde_json::Value = serde_json::from_str(r.payload).expect("payload JSON");
        assert_eq!(payload, p.payload);
        let metadata: Metadata = serde_json::from_str(r.metadata).expect("metadata JSON");
        assert_eq!(metadata, p.metadata);
    }
    // Paging by position: a limit cuts the batch, and the next read goes on.
    store
        .read_all_raw(start, 4, &mut raw)
        .await
        .expect("first page");
    let last = raw.last_position().expect("a page");
    store
        .read_all_raw(last, 100, &mut raw)
        .await
        .expect("second page");
    assert_eq!(raw.len(), 2);
    assert_eq!(
        raw.iter().next().map(|e| e.position),
        Some(plain[4].global_position)
    );
}

macro_rules! conformance {
    ($backend:ident, $make:path) => {
        mod $backend {
            conformance!(@cases $make;
                appends_to_a_new_stream_number_versions_from_one,
                an_event_may_carry_metadata_of_its_own,
                exact_version_appends_continue_the_stream,
                a_stale_expected_version_is_a_typed_conflict_and_writes_nothing,
                an_expected_version_ahead_of_the_stream_conflicts_instead_of_leaving_a_gap,
                no_stream_on_an_existing_stream_conflicts,
                any_version_appends_whatever_the_stream_holds,
                an_empty_append_is_refused,
                a_duplicate_event_id_fails_the_whole_append,
                large_and_unicode_payloads_round_trip,
                read_all_returns_every_stream_in_global_order_and_pages,
                read_stream_honours_from_version_and_limit,
                concurrent_writers_on_one_stream_get_one_winner,
                a_subscription_catches_up_then_follows_live_commits,
                a_subscription_starts_after_the_given_position,
                one_transaction_appends_to_two_streams_and_commits_both,
                concurrent_appends_each_keep_their_own_outcome,
                the_raw_read_agrees_with_read_all,
            );
        }
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $make().await.expect("fresh store");
                super::$case(store).await;
            }
        )*
    };
}

conformance!(postgres, roster_tests::pg_store);
conformance!(sqlite, roster_tests::sqlite_store);
