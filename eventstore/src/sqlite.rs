//! The embedded store on SQLite, the default when no database server is configured.
//!
//! SQLite admits one writer at a time and this store also serializes its own
//! appends behind a mutex, so positions (`AUTOINCREMENT`) are handed out in commit
//! order: a reader reading `position > P` cannot skip an event. Readers run
//! concurrently with the writer thanks to WAL mode. Wake-ups are in-process only;
//! another process writing the same file is noticed by the subscribers' slow poll.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::changes::{ChangeNotifier, ChangeSignal};
use crate::clock::{Clock, SystemClock};
use crate::envelope::{
    Appended, ExpectedVersion, Metadata, NewEvent, Position, RecordedEvent, StreamId,
};
use crate::error::StoreError;
use crate::group::{Queue, Waiting};
use crate::integrity::{chain_hash, to_micros, HashInput, GENESIS};
use crate::postgres::{check_batch, metadata_json};
use crate::store::EventStore;
use crate::uncommitted::{Tx, Uncommitted};

const SELECT_COLUMNS: &str = "global_position, event_id, stream_id, stream_version, event_type, \
     schema_version, payload, metadata, recorded_at, hash";

/// Rows per INSERT statement: 9 parameters each, well under SQLite's variable limit.
const ROWS_PER_INSERT: usize = 500;

/// The SQLite event store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    write_lock: Arc<Mutex<()>>,
    changes: Arc<ChangeNotifier>,
    clock: Arc<dyn Clock>,
    /// Appends waiting to share the next commit (see [`SqliteStore::run_round`]).
    queue: Arc<Queue>,
}

impl SqliteStore {
    /// Connection options for a store file: created if missing, WAL journal, and a
    /// busy timeout so a second process (e.g. `roster migrate`) waits instead of failing.
    pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
        Ok(SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true))
    }

    /// Wraps a migrated pool.
    pub fn new(pool: SqlitePool) -> Self {
        Self::with_clock(pool, Arc::new(SystemClock))
    }

    /// Like [`SqliteStore::new`], stamping `recorded_at` from `clock`.
    pub fn with_clock(pool: SqlitePool, clock: Arc<dyn Clock>) -> Self {
        Self {
            pool,
            write_lock: Arc::new(Mutex::new(())),
            changes: Arc::new(ChangeNotifier::new()),
            clock,
            queue: Arc::default(),
        }
    }

    /// Rounds of group commit run so far and the appends they carried.
    pub fn group_commits(&self) -> (u64, u64) {
        self.queue.counts()
    }

    /// One round of group commit, run by the holder of the writer lock: every
    /// waiting append (up to the round's size) in one write transaction, each
    /// behind a savepoint so that one that fails (a stale version, a duplicate
    /// id) leaves the others standing, then one commit. If the transaction
    /// cannot begin or commit, each append is tried on its own.
    async fn run_round(&self) {
        let round = self.queue.take_round();
        if round.is_empty() {
            return;
        }
        if round.len() > 1 {
            if let Ok(outcomes) = self.commit_together(&round).await {
                self.changes.bump();
                for (w, outcome) in round.into_iter().zip(outcomes) {
                    let _ = w.answer.send(outcome);
                }
                return;
            }
        }
        for w in round {
            let answer = async {
                let (appended, tx) = self
                    .append_locked(&w.stream, w.expected, &w.events, &w.metadata)
                    .await?;
                tx.commit().await?;
                Ok(appended)
            }
            .await;
            if answer.is_ok() {
                self.changes.bump();
            }
            let _ = w.answer.send(answer);
        }
    }

    /// Every append of `round` in one transaction; `Err` when it failed as a
    /// whole and nothing of it was committed.
    async fn commit_together(
        &self,
        round: &[Waiting],
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut outcomes = Vec::with_capacity(round.len());
        for w in round {
            sqlx::query("SAVEPOINT member").execute(&mut *tx).await?;
            let outcome = self
                .write(&mut tx, &w.stream, w.expected, &w.events, &w.metadata)
                .await;
            if outcome.is_err() {
                sqlx::query("ROLLBACK TO member").execute(&mut *tx).await?;
            }
            sqlx::query("RELEASE member").execute(&mut *tx).await?;
            outcomes.push(outcome);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// The pool the store uses, for read models kept in the same file.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Writes the events in a new write transaction, returned uncommitted.
    /// The caller holds `write_lock`.
    async fn append_locked(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
        metadata: &[serde_json::Value],
    ) -> Result<(Appended, sqlx::Transaction<'static, Sqlite>), StoreError> {
        // IMMEDIATE takes the write lock before the version read: a deferred
        // transaction could not upgrade after another connection's commit.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let appended = self
            .write(&mut tx, stream, expected, events, metadata)
            .await?;
        Ok((appended, tx))
    }

    /// Writes the events in `tx`, a write transaction.
    async fn write(
        &self,
        tx: &mut sqlx::SqliteConnection,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
        metadata: &[serde_json::Value],
    ) -> Result<Appended, StoreError> {
        let metadata_text: Vec<String> = metadata.iter().map(|m| m.to_string()).collect();
        let head: Option<(i64, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT stream_version, hash FROM events WHERE stream_id = ? ORDER BY stream_version DESC LIMIT 1",
        )
        .bind(stream.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let (current, mut prev) = match head {
            Some((v, h)) => (
                u64::try_from(v).unwrap_or(0),
                h.and_then(|h| h.try_into().ok()).unwrap_or(GENESIS),
            ),
            None => (0, GENESIS),
        };
        let matches = match expected {
            ExpectedVersion::NoStream => current == 0,
            ExpectedVersion::Exact(v) => current == v,
            ExpectedVersion::Any => true,
        };
        if !matches {
            return Err(StoreError::Conflict {
                stream: stream.clone(),
                expected,
                actual: current,
            });
        }

        let recorded_at = to_micros(self.clock.now());
        let hashes: Vec<Vec<u8>> = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                prev = chain_hash(
                    &prev,
                    &HashInput {
                        event_id: e.event_id,
                        stream_id: stream.as_str(),
                        stream_version: current + i as u64 + 1,
                        event_type: &e.event_type,
                        schema_version: e.schema_version,
                        payload: &e.payload,
                        metadata: &metadata[i],
                        recorded_at,
                    },
                );
                prev.to_vec()
            })
            .collect();
        let mut written = Vec::with_capacity(events.len());
        for (chunk_index, chunk) in events.chunks(ROWS_PER_INSERT).enumerate() {
            let first = current + (chunk_index * ROWS_PER_INSERT) as u64 + 1;
            let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO events (event_id, stream_id, stream_version, event_type, \
                 schema_version, payload, metadata, recorded_at, hash) ",
            );
            let offset = chunk_index * ROWS_PER_INSERT;
            insert.push_values(chunk.iter().enumerate(), |mut row, (i, event)| {
                row.push_bind(event.event_id.to_string())
                    .push_bind(stream.as_str())
                    .push_bind(i64::try_from(first + i as u64).unwrap_or(i64::MAX))
                    .push_bind(event.event_type.as_str())
                    .push_bind(i64::from(event.schema_version))
                    .push_bind(event.payload.to_string())
                    .push_bind(metadata_text[offset + i].as_str())
                    .push_bind(recorded_at)
                    .push_bind(hashes[offset + i].clone());
            });
            insert.push(" RETURNING stream_version, global_position");
            let rows = match insert.build().fetch_all(&mut *tx).await {
                Ok(rows) => rows,
                Err(err) => {
                    return Err(self
                        .classify_append_error(err, stream, expected, events)
                        .await)
                }
            };
            for row in rows {
                let v: i64 = row.try_get("stream_version")?;
                let p: i64 = row.try_get("global_position")?;
                written.push((
                    u64::try_from(v).unwrap_or(0),
                    Position(u64::try_from(p).unwrap_or(0)),
                ));
            }
        }
        written.sort_unstable();
        Ok(Appended {
            stream_id: stream.clone(),
            written,
        })
    }

    async fn classify_append_error(
        &self,
        err: sqlx::Error,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> StoreError {
        let unique_violation =
            matches!(&err, sqlx::Error::Database(db) if db.is_unique_violation());
        if !unique_violation {
            return StoreError::Database(err);
        }
        for event in events {
            let found: Result<Option<String>, _> =
                sqlx::query_scalar("SELECT event_id FROM events WHERE event_id = ?")
                    .bind(event.event_id.to_string())
                    .fetch_optional(&self.pool)
                    .await;
            match found {
                Ok(Some(_)) => return StoreError::DuplicateEventId(event.event_id),
                Ok(None) => {}
                Err(e) => return StoreError::Database(e),
            }
        }
        match self.stream_version(stream).await {
            Ok(actual) => StoreError::Conflict {
                stream: stream.clone(),
                expected,
                actual,
            },
            Err(e) => e,
        }
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        metadata: &Metadata,
    ) -> Result<Appended, StoreError> {
        check_batch(&events)?;
        let metadata = metadata_json(&events, metadata)?;
        // Appends that wait for the writer lock together are written by the
        // next holder in one transaction; the round runs in a task of its own,
        // so a caller that goes away never leaves other callers' appends half done.
        let answer = self.queue.push(stream, expected, events, metadata);
        let store = self.clone();
        tokio::spawn(async move {
            let _writer = store.write_lock.lock().await;
            store.run_round().await;
        });
        answer.outcome().await
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
        // Held until the commit: SQLite has one writer, and this is it.
        let writer = self.write_lock.clone().lock_owned().await;
        let (appended, tx) = self
            .append_locked(stream, expected, &events, &metadata)
            .await?;
        let mut pending = Uncommitted::new(Tx::Sqlite(tx), Some(Box::new(writer)));
        let changes = self.changes.clone();
        pending.on_commit(move || changes.bump());
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
        // The open transaction holds the writer lock already.
        let Tx::Sqlite(tx) = open.tx() else {
            return Err(StoreError::ForeignTransaction);
        };
        self.write(tx, stream, expected, &events, &metadata).await
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {SELECT_COLUMNS} FROM events WHERE stream_id = ? AND stream_version >= ? \
             ORDER BY stream_version LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(stream.as_str())
            .bind(i64::try_from(from_version).unwrap_or(i64::MAX))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<u64, StoreError> {
        let v: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = ?",
        )
        .bind(stream.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(v).unwrap_or(0))
    }

    async fn read_all(
        &self,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {SELECT_COLUMNS} FROM events WHERE global_position > ? \
             ORDER BY global_position LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(i64::try_from(after.0).unwrap_or(i64::MAX))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    async fn read_correlated(
        &self,
        correlation: uuid::Uuid,
        after: Position,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = format!(
            "SELECT {SELECT_COLUMNS} FROM events WHERE json_extract(metadata, '$.correlation_id') = ? \
             AND global_position > ? ORDER BY global_position LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(correlation.to_string())
            .bind(i64::try_from(after.0).unwrap_or(i64::MAX))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode).collect()
    }

    async fn head(&self) -> Result<Position, StoreError> {
        let p: i64 = sqlx::query_scalar("SELECT coalesce(max(global_position), 0) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(Position(u64::try_from(p).unwrap_or(0)))
    }

    async fn count_after(&self, after: Position, cap: u64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT 1 FROM events WHERE global_position > ? LIMIT ?) pending",
        )
        .bind(i64::try_from(after.0).unwrap_or(i64::MAX))
        .bind(i64::try_from(cap).unwrap_or(i64::MAX))
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn changes(&self) -> ChangeSignal {
        self.changes.signal()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn decode(row: &SqliteRow) -> Result<RecordedEvent, StoreError> {
    let position = u64::try_from(row.try_get::<i64, _>("global_position")?).unwrap_or(0);
    let corrupt = |reason: String| StoreError::Corrupt { position, reason };
    let event_id: String = row.try_get("event_id")?;
    let stream: String = row.try_get("stream_id")?;
    let payload: String = row.try_get("payload")?;
    let metadata: String = row.try_get("metadata")?;
    Ok(RecordedEvent {
        event_id: Uuid::parse_str(&event_id).map_err(|e| corrupt(e.to_string()))?,
        stream_id: StreamId::new(stream).map_err(|e| corrupt(e.to_string()))?,
        stream_version: u64::try_from(row.try_get::<i64, _>("stream_version")?)
            .map_err(|e| corrupt(e.to_string()))?,
        global_position: Position(position),
        event_type: row.try_get("event_type")?,
        schema_version: u32::try_from(row.try_get::<i64, _>("schema_version")?)
            .map_err(|e| corrupt(e.to_string()))?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt(e.to_string()))?,
        metadata: serde_json::from_str(&metadata).map_err(|e| corrupt(e.to_string()))?,
        recorded_at: row.try_get::<DateTime<Utc>, _>("recorded_at")?,
        hash: row
            .try_get::<Option<Vec<u8>>, _>("hash")?
            .and_then(|h| h.try_into().ok()),
    })
}
