//! The production store on PostgreSQL.
//!
//! # Positions and gap safety
//! A position is `(transaction id + base) << 20 | index`, where the transaction id
//! is `pg_current_xact_id()` of the appending transaction and `index` (1, 2, …) is
//! the event's place in its append. Every event of one transaction therefore sits
//! in one block of positions, and blocks are ordered by transaction id.
//!
//! [`EventStore::read_all`] returns only rows whose transaction id lies below the
//! `xmin` of the reading statement's own snapshot: every transaction below `xmin`
//! has finished, so each of its rows is either visible to that very statement or
//! will never exist. A transaction still running (or committing late) has an id of
//! at least `xmin`, so its rows — and every row numbered after them — are held back
//! until it ends. A reader that remembers the last position it was given can thus
//! never skip an event, however commits interleave, and needs no timeouts. The
//! horizon and the data come from one statement, hence one snapshot.
//!
//! The costs, accepted knowingly: global order is transaction-id order rather than
//! commit order (order within a stream still holds, because an append reads the
//! previous version in the same statement that takes its transaction id), and one
//! long-open transaction anywhere in the cluster holds readers back; pools made by
//! [`PgStore::connect_options`] therefore cap idle-in-transaction time.
//!
//! After a logical dump is restored into a fresh cluster, transaction ids restart
//! low. [`PgStore::rebase_positions`] raises `base` so new positions stay above
//! every restored one.
//!
//! # Round trips and wake-ups
//! An append is one statement: it checks the expected version, inserts every event
//! from arrays (`unnest`) and returns versions and positions. Conflicts are found by
//! the constraint name of SQLSTATE 23505, never by message text. Wake-ups are local
//! first (readers in this process hear of an append at once); a background task then
//! sends one coalesced `NOTIFY` for other processes, so the notify queue lock is kept
//! out of the append's commit. `NOTIFY` carries nothing: readers re-read.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::Row;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::changes::{ChangeNotifier, ChangeSignal};
use crate::clock::{Clock, SystemClock};
use crate::envelope::{
    Appended, ExpectedVersion, Metadata, NewEvent, Position, RecordedEvent, StreamId,
    MAX_EVENTS_PER_APPEND,
};
use crate::error::StoreError;
use crate::group::{Queue, Waiting};
use crate::integrity::{chain_hash, to_micros, ChainHash, HashInput, GENESIS};
use crate::raw::RawBatch;
use crate::store::EventStore;
use crate::uncommitted::{Tx, Uncommitted};

const SELECT_COLUMNS: &str = "global_position, event_id, stream_id, stream_version, event_type, \
     schema_version, payload, metadata, recorded_at, hash";

const APPEND_SQL: &str = r#"
WITH cur AS (
    SELECT coalesce(max(stream_version), 0) AS v FROM events WHERE stream_id = $1
), ok AS (
    SELECT v FROM cur WHERE $2::bigint < 0 OR v = $2::bigint
), base AS (
    SELECT base FROM event_position_base
), ins AS (
    INSERT INTO events (global_position, event_id, stream_id, stream_version, event_type,
                        schema_version, payload, metadata, recorded_at, hash)
    SELECT ((pg_current_xact_id()::text::bigint + base.base) << 20) | ($10::bigint + e.ord),
           e.event_id, $1, ok.v + e.ord, e.event_type, e.schema_version, e.payload::jsonb, e.metadata::jsonb,
           $8::timestamptz, e.hash
    FROM ok, base,
         unnest($3::uuid[], $4::text[], $5::int4[], $6::text[], $9::bytea[], $7::text[])
             WITH ORDINALITY AS e(event_id, event_type, schema_version, payload, hash, metadata, ord)
    RETURNING stream_version, global_position
)
SELECT cur.v AS current_version, ins.stream_version, ins.global_position
FROM cur LEFT JOIN ins ON true
ORDER BY ins.stream_version
"#;

/// The gap-safe horizon: positions below every transaction still open, so a
/// reader never passes an event that a slower transaction may yet commit before.
macro_rules! below_the_horizon {
    () => {
        "global_position < ((pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
         + (SELECT base FROM event_position_base)) << 20)"
    };
}

const READ_ALL_SQL: &str = concat!(
    "SELECT global_position, event_id, stream_id, stream_version, event_type, \
     schema_version, payload, metadata, recorded_at, hash \
     FROM events WHERE global_position > $1 AND ",
    below_the_horizon!(),
    " ORDER BY global_position LIMIT $2"
);

/// A rebuild's batch as ONE row: the events as tab-separated lines (see
/// [`RawBatch::fill_from_lines`]), so the client decodes one row per batch
/// instead of one per event. Under the same gap-safe horizon as `read_all`.
const READ_ALL_RAW_SQL: &str = concat!(
    "SELECT string_agg(concat_ws(E'\\t', global_position, event_id, stream_id, stream_version, \
     event_type, schema_version, (extract(epoch FROM recorded_at) * 1000000)::bigint, \
     coalesce(metadata::text, '{}'), payload::text), E'\\n' ORDER BY global_position) \
     FROM (SELECT global_position, event_id, stream_id, stream_version, event_type, \
     schema_version, payload, metadata, recorded_at \
     FROM events WHERE global_position > $1 AND ",
    below_the_horizon!(),
    " ORDER BY global_position LIMIT $2) batch"
);

/// How often an `Any` append retries a lost race before reporting the conflict.
const ANY_RETRIES: usize = 8;

/// The PostgreSQL event store. Cheap to clone; background wake-up tasks stop when
/// the last clone is dropped.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
    /// Where reads (and the chain lookups of appends) go; see [`PgStore::reading_from`].
    pool: PgPool,
}

struct Inner {
    /// Connections for appends only (see [`append_pool`]).
    appends: PgPool,
    changes: Arc<ChangeNotifier>,
    local_appends: watch::Sender<u64>,
    clock: Arc<dyn Clock>,
    /// Last known (version, hash) per stream, so chaining an append needs no extra
    /// read while this process is the one writing. Stored hashes never change, so
    /// an entry is either current or merely old (then the append conflicts).
    heads: Mutex<HashMap<String, (u64, ChainHash)>>,
    /// Appends waiting to share a commit (see [`Group`]).
    group: Group,
    tasks: Vec<JoinHandle<()>>,
}

/// Group commit: appends that arrive while another round's commit is in flight
/// wait for it and then go out together, in one transaction with one commit
/// (one flush of the write-ahead log) for all of them. Each keeps its own
/// outcome: a stale expected version fails only that append.
#[derive(Default)]
struct Group {
    /// Appends waiting for the next round.
    queue: Queue,
    /// Held by the round in flight.
    round: tokio::sync::Mutex<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl PgStore {
    /// Connection options for a store pool: the URL's settings plus a cap on idle
    /// transactions, which would otherwise hold every gap-safe reader back, and
    /// the name `roster` in `pg_stat_activity`.
    pub fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
        let options = PgConnectOptions::from_str(url)?
            .options([("idle_in_transaction_session_timeout", "60000")]);
        // Named in `pg_stat_activity`, so an operator (and the bench) can tell
        // Roster's connections apart, unless the URL names them already.
        Ok(if options.get_application_name().is_some() {
            options
        } else {
            options.application_name("roster")
        })
    }

    /// Wraps a migrated pool and starts the wake-up tasks (LISTEN and coalesced NOTIFY).
    pub async fn new(pool: PgPool) -> Result<Self, StoreError> {
        Self::with_clock(pool, Arc::new(SystemClock)).await
    }

    /// Like [`PgStore::new`], stamping `recorded_at` from `clock`.
    pub async fn with_clock(pool: PgPool, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&pool)
            .await?;
        let channel = format!("roster_events_{schema}");
        let changes = Arc::new(ChangeNotifier::new());
        let (local_appends, local_rx) = watch::channel(0u64);

        let listener = tokio::spawn(listen(pool.clone(), channel.clone(), changes.clone()));
        let notifier = tokio::spawn(notify(pool.clone(), channel, local_rx));
        Ok(Self {
            inner: Arc::new(Inner {
                appends: append_pool(&pool),
                changes,
                local_appends,
                clock,
                heads: Mutex::new(HashMap::new()),
                group: Group::default(),
                tasks: vec![listener, notifier],
            }),
            pool,
        })
    }

    /// The same store, reading through `pool`: the background followers read the
    /// log on their own few connections, so they never wait behind requests, and
    /// a quiet instance leaves the requests' pool unused (its connections then
    /// close; a pool reuses its idle connections in turn, so one that polls never
    /// shrinks). Appends, wake-ups and the chain's cache stay shared.
    pub fn reading_from(&self, pool: PgPool) -> Self {
        Self {
            inner: self.inner.clone(),
            pool,
        }
    }

    /// The pool the store uses, for read models kept in the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Raises the position base so new positions exceed every stored one. Run after
    /// restoring a logical dump into a fresh cluster; harmless at any other time.
    pub async fn rebase_positions(&self) -> Result<(), StoreError> {
        sqlx::query(
            r#"UPDATE event_position_base
               SET base = greatest(base,
                   (SELECT coalesce(max(global_position), 0) >> 20 FROM events) + 1
                   - pg_current_xact_id()::text::bigint)"#,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stream's head as `(version, hash)`: from memory when known, else one read.
    async fn head_of(
        &self,
        stream: &StreamId,
        version: Option<u64>,
    ) -> Result<Option<(u64, ChainHash)>, StoreError> {
        if version == Some(0) {
            return Ok(Some((0, GENESIS)));
        }
        let cached = self.heads().get(stream.as_str()).copied();
        if let (Some((v, h)), Some(want)) = (cached, version) {
            if v == want {
                return Ok(Some((v, h)));
            }
        }
        let row: Option<(i64, Option<Vec<u8>>)> = match version {
            Some(v) => sqlx::query_as("SELECT stream_version, hash FROM events WHERE stream_id = $1 AND stream_version = $2")
                .bind(stream.as_str())
                .bind(to_i64(v))
                .fetch_optional(&self.pool)
                .await?,
            None => sqlx::query_as(
                "SELECT stream_version, hash FROM events WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1",
            )
            .bind(stream.as_str())
            .fetch_optional(&self.pool)
            .await?,
        };
        Ok(match row {
            None if version.is_none() => Some((0, GENESIS)),
            None => None,
            Some((v, hash)) => Some((
                to_u64(v),
                hash.and_then(|h| h.try_into().ok()).unwrap_or(GENESIS),
            )),
        })
    }

    /// Drops the remembered head of `stream` after a lost race, and returns self.
    fn forget_head(&self, stream: &StreamId) -> &Self {
        self.heads().remove(stream.as_str());
        self
    }

    fn heads(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, ChainHash)>> {
        self.inner.heads.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes one append, on `tx` when given (left open), else on its own
    /// connection (committed). Returns the stream's new head for [`Self::committed`].
    async fn append_once(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
        metadata: &[serde_json::Value],
        tx: Option<(&mut sqlx::PgConnection, u64)>,
    ) -> Result<(Appended, (u64, ChainHash)), StoreError> {
        // Positions are the transaction's id and an ordinal within it, so a
        // second append in one transaction numbers on after the first.
        let offset = tx.as_ref().map_or(0, |(_, written)| *written);
        if offset + events.len() as u64 >= 1 << 20 {
            return Err(StoreError::TooManyEvents(
                usize::try_from(offset).unwrap_or(usize::MAX) + events.len(),
            ));
        }
        let wanted = match expected {
            ExpectedVersion::NoStream => Some(0),
            ExpectedVersion::Exact(v) => Some(v),
            ExpectedVersion::Any => None,
        };
        let Some((base_version, prev)) = self.head_of(stream, wanted).await? else {
            // The expected version does not exist: the stream is shorter.
            return Err(StoreError::Conflict {
                stream: stream.clone(),
                expected,
                actual: self.stream_version(stream).await?,
            });
        };
        let expected_sql = to_i64(base_version);
        let recorded_at = to_micros(self.inner.clock.now());
        let mut hashes: Vec<Vec<u8>> = Vec::with_capacity(events.len());
        let mut prev = prev;
        for (i, e) in events.iter().enumerate() {
            prev = chain_hash(
                &prev,
                &HashInput {
                    event_id: e.event_id,
                    stream_id: stream.as_str(),
                    stream_version: base_version + i as u64 + 1,
                    event_type: &e.event_type,
                    schema_version: e.schema_version,
                    payload: &e.payload,
                    metadata: &metadata[i],
                    recorded_at,
                },
            );
            hashes.push(prev.to_vec());
        }
        let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        let versions: Vec<i32> = events
            .iter()
            .map(|e| i32::try_from(e.schema_version).unwrap_or(i32::MAX))
            .collect();
        let payloads: Vec<String> = events.iter().map(|e| e.payload.to_string()).collect();
        let metadata: Vec<String> = metadata.iter().map(|m| m.to_string()).collect();

        let query = sqlx::query(APPEND_SQL)
            .bind(stream.as_str())
            .bind(expected_sql)
            .bind(&ids)
            .bind(&types)
            .bind(&versions)
            .bind(&payloads)
            .bind(&metadata)
            .bind(recorded_at)
            .bind(&hashes)
            .bind(to_i64(offset));
        let result = match tx {
            Some((tx, _)) => query.fetch_all(tx).await,
            None => query.fetch_all(&self.inner.appends).await,
        };
        let rows = match result {
            Ok(rows) => rows,
            Err(err) => {
                return Err(self
                    .classify_append_error(err, stream, expected, &ids)
                    .await)
            }
        };

        let mut written = Vec::with_capacity(events.len());
        let mut current = 0;
        for row in &rows {
            current = row.try_get::<i64, _>("current_version")?;
            let version: Option<i64> = row.try_get("stream_version")?;
            let position: Option<i64> = row.try_get("global_position")?;
            if let (Some(v), Some(p)) = (version, position) {
                written.push((to_u64(v), Position(to_u64(p))));
            }
        }
        if written.is_empty() {
            self.forget_head(stream);
            return Err(StoreError::Conflict {
                stream: stream.clone(),
                expected,
                actual: to_u64(current),
            });
        }
        Ok((
            Appended {
                stream_id: stream.clone(),
                written,
            },
            (base_version + events.len() as u64, prev),
        ))
    }

    /// Queues an append for the next round and waits for its outcome. The round
    /// runs in a task of its own, so a caller that goes away never leaves other
    /// callers' appends half done.
    async fn append_in_group(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        metadata: Vec<serde_json::Value>,
    ) -> Result<Appended, StoreError> {
        let answer = self
            .inner
            .group
            .queue
            .push(stream, expected, events, metadata);
        let store = self.clone();
        tokio::spawn(async move {
            let _round = store.inner.group.round.lock().await;
            store.run_round().await;
        });
        answer.outcome().await
    }

    /// Rounds of group commit run so far and the appends they carried.
    pub fn group_commits(&self) -> (u64, u64) {
        self.inner.group.queue.counts()
    }

    /// One round: everything waiting (up to the round's size) in one transaction.
    /// If that transaction fails as a whole (a unique key another instance
    /// took first, a lost connection), each append is tried again on its own,
    /// so each gets the answer it would have had alone.
    async fn run_round(&self) {
        let round = self.inner.group.queue.take_round();
        if round.is_empty() {
            return;
        }
        if round.len() > 1 {
            if let Ok(outcomes) = self.commit_together(&round).await {
                for (w, outcome) in round.into_iter().zip(outcomes) {
                    let answer = outcome.map(|(appended, head)| {
                        self.committed(w.stream.as_str(), head);
                        appended
                    });
                    let _ = w.answer.send(answer);
                }
                return;
            }
        }
        for w in round {
            let answer = self
                .append_once(&w.stream, w.expected, &w.events, &w.metadata, None)
                .await
                .map(|(appended, head)| {
                    self.committed(w.stream.as_str(), head);
                    appended
                });
            let _ = w.answer.send(answer);
        }
    }

    /// Every append of `round` in one transaction; `Err` when the transaction
    /// failed as a whole and nothing of it was committed.
    #[allow(clippy::type_complexity)]
    async fn commit_together(
        &self,
        round: &[Waiting],
    ) -> Result<Vec<Result<(Appended, (u64, ChainHash)), StoreError>>, StoreError> {
        let mut tx = self.inner.appends.begin().await?;
        let mut written = 0u64;
        let mut outcomes = Vec::with_capacity(round.len());
        let mut conflicted = false;
        for w in round {
            match self
                .append_once(
                    &w.stream,
                    w.expected,
                    &w.events,
                    &w.metadata,
                    Some((&mut *tx, written)),
                )
                .await
            {
                Ok(outcome) => {
                    written += w.events.len() as u64;
                    outcomes.push(Ok(outcome));
                }
                Err(e @ StoreError::Conflict { .. }) => {
                    conflicted = true;
                    outcomes.push(Err(e));
                }
                Err(e) => return Err(e),
            }
        }
        if conflicted {
            // A conflict is either a stale version (nothing written, the
            // transaction intact) or a unique key taken meanwhile, which aborted
            // the transaction: COMMIT would then quietly roll back.
            sqlx::query("SELECT 1").execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Remembers `stream`'s new head once `open` commits; forgets it otherwise.
    fn hook_head(&self, open: &mut Uncommitted, stream: &StreamId, head: (u64, ChainHash)) {
        let store = self.clone();
        let name = stream.as_str().to_owned();
        open.on_commit(move || store.committed(&name, head));
        let store = self.clone();
        let name = stream.clone();
        open.on_abort(move || {
            store.forget_head(&name);
        });
    }

    /// What follows a committed append: remember the stream's head, wake this
    /// process's followers and (coalesced) other processes'.
    fn committed(&self, stream: &str, head: (u64, ChainHash)) {
        {
            let mut heads = self.heads();
            if heads.len() >= 100_000 {
                heads.clear();
            }
            heads.insert(stream.to_owned(), head);
        }
        self.inner.changes.bump();
        self.inner
            .local_appends
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    async fn classify_append_error(
        &self,
        err: sqlx::Error,
        stream: &StreamId,
        expected: ExpectedVersion,
        ids: &[Uuid],
    ) -> StoreError {
        let constraint = match &err {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
                db.constraint().map(str::to_owned)
            }
            _ => None,
        };
        match constraint.as_deref() {
            Some("events_stream_version_key") => {
                match self.forget_head(stream).stream_version(stream).await {
                    Ok(actual) => StoreError::Conflict {
                        stream: stream.clone(),
                        expected,
                        actual,
                    },
                    Err(e) => e,
                }
            }
            Some("events_event_id_key") => {
                let dup: Result<Option<Uuid>, _> = sqlx::query_scalar(
                    "SELECT event_id FROM events WHERE event_id = ANY($1) LIMIT 1",
                )
                .bind(ids)
                .fetch_optional(&self.pool)
                .await;
                match dup {
                    Ok(Some(id)) => StoreError::DuplicateEventId(id),
                    Ok(None) => StoreError::Database(err),
                    Err(e) => StoreError::Database(e),
                }
            }
            _ => StoreError::Database(err),
        }
    }
}

#[async_trait]
impl EventStore for PgStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        check_batch(&events)?;
        let metadata = metadata_json(&events, metadata)?;
        if expected != ExpectedVersion::Any {
            return self
                .append_in_group(stream, expected, events, metadata)
                .await;
        }
        let mut attempt = 0;
        loop {
            match self
                .append_once(stream, expected, &events, &metadata, None)
                .await
            {
                Err(StoreError::Conflict { .. })
                    if expected == ExpectedVersion::Any && attempt < ANY_RETRIES =>
                {
                    attempt += 1;
                }
                Ok((appended, head)) => {
                    self.committed(stream.as_str(), head);
                    return Ok(appended);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn append_uncommitted(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        metadata: &Metadata,
    ) -> Result<(Appended, Uncommitted), StoreError> {
        check_batch(&events)?;
        let metadata = metadata_json(&events, metadata)?;
        let mut tx = self.inner.appends.begin().await?;
        let (appended, head) = self
            .append_once(stream, expected, &events, &metadata, Some((&mut *tx, 0)))
            .await?;
        let mut pending = Uncommitted::new(Tx::Pg(tx), None);
        pending.add_written(events.len());
        self.hook_head(&mut pending, stream, head);
        Ok((appended, pending))
    }

    async fn append_more(
        &self,
        open: &mut Uncommitted,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        check_batch(&events)?;
        let metadata = metadata_json(&events, metadata)?;
        let written = open.written();
        let Tx::Pg(tx) = open.tx() else {
            return Err(StoreError::ForeignTransaction);
        };
        let (appended, head) = self
            .append_once(
                stream,
                expected,
                &events,
                &metadata,
                Some((&mut **tx, written)),
            )
            .await?;
        open.add_written(events.len());
        self.hook_head(open, stream, head);
        Ok(appended)
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {SELECT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 \
             ORDER BY stream_version LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(stream.as_str())
            .bind(to_i64(from_version))
            .bind(to_i64(limit as u64))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<u64, StoreError> {
        let v: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1",
        )
        .bind(stream.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(to_u64(v))
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(READ_ALL_SQL)
            .bind(to_i64(after.0))
            .bind(to_i64(limit as u64))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    async fn read_all_raw(
        &self,
        after: Position,
        limit: usize,
        into: &mut RawBatch,
    ) -> Result<(), StoreError> {
        let row = sqlx::query(READ_ALL_RAW_SQL)
            .bind(to_i64(after.0))
            .bind(to_i64(limit as u64))
            .fetch_one(&self.pool)
            .await?;
        let lines: Option<&str> = row.try_get(0)?;
        into.fill_from_lines(lines.unwrap_or_default())
            .map_err(|reason| StoreError::Corrupt {
                position: after.0,
                reason,
            })
    }

    async fn read_correlated(
        &self,
        correlation: Uuid,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {SELECT_COLUMNS} FROM events WHERE metadata->>'correlation_id' = $1 \
             AND global_position > $2 ORDER BY global_position LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(correlation.to_string())
            .bind(to_i64(after.0))
            .bind(to_i64(limit as u64))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    async fn head(&self) -> Result<Position, StoreError> {
        let p: i64 = sqlx::query_scalar("SELECT coalesce(max(global_position), 0) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(Position(to_u64(p)))
    }

    async fn count_after(&self, after: Position, cap: u64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT 1 FROM events WHERE global_position > $1 LIMIT $2) pending",
        )
        .bind(i64::try_from(after.0).unwrap_or(i64::MAX))
        .bind(i64::try_from(cap).unwrap_or(i64::MAX))
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn changes(&self) -> ChangeSignal {
        self.inner.changes.signal()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

pub(crate) fn check_batch(events: &[NewEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Err(StoreError::EmptyAppend);
    }
    if events.len() > MAX_EVENTS_PER_APPEND {
        return Err(StoreError::TooManyEvents(events.len()));
    }
    Ok(())
}

/// Each event's metadata as stored: its own when it has one, else the append's.
pub(crate) fn metadata_json(
    events: &[NewEvent],
    metadata: &Metadata,
) -> Result<Vec<serde_json::Value>, StoreError> {
    let shared = serde_json::to_value(metadata).map_err(StoreError::Encode)?;
    events
        .iter()
        .map(|e| match &e.metadata {
            Some(own) => serde_json::to_value(own).map_err(StoreError::Encode),
            None => Ok(shared.clone()),
        })
        .collect()
}

fn decode(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let position = to_u64(row.try_get::<i64, _>("global_position")?);
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let stream: String = row.try_get("stream_id")?;
    let metadata: serde_json::Value = row.try_get("metadata")?;
    Ok(RecordedEvent {
        event_id: row.try_get("event_id")?,
        stream_id: StreamId::new(stream).map_err(|e| corrupt(e.to_string()))?,
        stream_version: to_u64(row.try_get::<i64, _>("stream_version")?),
        global_position: Position(position),
        event_type: row.try_get("event_type")?,
        schema_version: u32::try_from(row.try_get::<i32, _>("schema_version")?)
            .map_err(|e| corrupt(e.to_string()))?,
        payload: row.try_get("payload")?,
        metadata: serde_json::from_value(metadata).map_err(|e| corrupt(e.to_string()))?,
        recorded_at: row.try_get::<DateTime<Utc>, _>("recorded_at")?,
        hash: row
            .try_get::<Option<Vec<u8>>, _>("hash")?
            .and_then(|h| h.try_into().ok()),
    })
}

/// Most appends this process makes run on these connections, which use generic
/// plans: on the shared pool PostgreSQL re-plans the append (a CTE over `unnest`)
/// on every execution, because knowing the arrays makes a custom plan look
/// cheaper, and planning was 40% of an append (`scripts/bench`, 32 writers:
/// 2.0k → 3.5k appends/s). Queries keep the shared pool and custom plans, which
/// matter there: a generic plan sorts a 10,000-member organization for each page.
/// Opened lazily and closed when idle as the shared pool's are, sized by [`append_connections`].
fn append_pool(shared: &PgPool) -> PgPool {
    let options = shared
        .connect_options()
        .as_ref()
        .clone()
        .options([("plan_cache_mode", "force_generic_plan")]);
    PgPoolOptions::new()
        // No ping before each append: see the request pool (`roster serve`).
        .test_before_acquire(false)
        .max_connections(append_connections(shared.options().get_max_connections()))
        .min_connections(0)
        .idle_timeout(
            shared
                .options()
                .get_idle_timeout()
                .unwrap_or(Duration::from_secs(30)),
        )
        .acquire_timeout(shared.options().get_acquire_timeout())
        .connect_lazy_with(options)
}

/// The append pool's size for a request pool of `requests` connections: half as
/// many (appends are short, but each waits for its commit to reach the disk), at
/// least one and at most eight.
pub fn append_connections(requests: u32) -> u32 {
    (requests / 2).clamp(1, 8)
}

/// Follows NOTIFY from other processes and turns it into local wake-ups. sqlx's
/// listener reconnects by itself; between failures we back off.
async fn listen(pool: PgPool, channel: String, changes: Arc<ChangeNotifier>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(err) => {
                tracing::warn!(%err, "event listener could not connect; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if let Err(err) = listener.listen(&channel).await {
            tracing::warn!(%err, "LISTEN failed; retrying");
            tokio::time::sleep(backoff).await;
            continue;
        }
        backoff = Duration::from_millis(100);
        // A reconnect may have missed notifications: wake readers to re-read.
        changes.bump();
        loop {
            match listener.recv().await {
                Ok(_) => changes.bump(),
                Err(err) => {
                    tracing::warn!(%err, "event listener lost its connection");
                    changes.bump();
                    break;
                }
            }
        }
    }
}

/// Sends one NOTIFY per burst of local appends, outside their transactions.
async fn notify(pool: PgPool, channel: String, mut local: watch::Receiver<u64>) {
    while local.changed().await.is_ok() {
        local.borrow_and_update();
        if let Err(err) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(&channel)
            .execute(&pool)
            .await
        {
            tracing::debug!(%err, "NOTIFY failed; other processes will catch up by polling");
        }
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
