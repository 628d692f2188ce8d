//! `roster replay`: rebuild read models from position 0 into fresh `_rebuild`
//! tables, then either compare them with the live tables (`--verify`) or swap them
//! in atomically. A rebuild folds with the same definition the projector uses
//! (see [`rows`](crate::rows)); only the way rows reach the tables differs.

use std::time::Instant;

use chrono::Utc;
use roster_eventstore::{EventStore, Position, RawBatch};

use crate::projection::{Projection, ProjectionError};
use crate::rows::{FinalRows, Rows};
use crate::runner::{apply_batch, checkpoint_name, ensure_installed, to_projected_raw};
use roster_storage::db::{pos_i64, time_text, Db};
use roster_storage::{exec, fetch};

const SUFFIX: &str = "_rebuild";
const REBUILD_BATCH: usize = 5_000;

/// Rows that differ between the live and the rebuilt copy of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDifference {
    /// The table.
    pub table: String,
    /// Rows (first two columns, as text) only in the live table.
    pub only_live: Vec<String>,
    /// Rows only in the rebuilt table.
    pub only_rebuilt: Vec<String>,
}

/// What a rebuild did.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    /// The projection.
    pub projection: String,
    /// Events read.
    pub events: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Position reached.
    pub position: Position,
    /// Differences found (with verify); empty means identical.
    pub differences: Vec<TableDifference>,
    /// Whether the rebuilt tables replaced the live ones.
    pub swapped: bool,
}

/// The first column names of a CREATE TABLE statement, for naming differing rows.
fn key_columns(create: &str) -> (String, String) {
    let cols: Vec<String> = create
        .split_once('(')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split(',')
        .filter_map(|c| c.split_whitespace().next().map(str::to_owned))
        .collect();
    (
        cols.first().cloned().unwrap_or_default(),
        cols.get(1)
            .cloned()
            .unwrap_or_else(|| cols.first().cloned().unwrap_or_default()),
    )
}

async fn checkpoint_of(db: &Db, name: &str) -> Result<Position, ProjectionError> {
    let row = fetch!(db db, fetch_optional, (i64,), "SELECT position FROM projection_checkpoints WHERE name = $1", name)?;
    Ok(Position(
        row.map_or(0, |(p,)| u64::try_from(p).unwrap_or(0)),
    ))
}

/// Rebuilds `p` from the start; with `verify`, compares instead of swapping.
/// `progress` is called after every batch with the events read so far.
pub async fn rebuild(
    db: &Db,
    store: &dyn EventStore,
    p: &dyn Projection,
    verify: bool,
    progress: impl FnMut(u64, Position),
) -> Result<RebuildReport, ProjectionError> {
    let mut reports = rebuild_many(db, store, &[p], verify, progress).await?;
    reports
        .pop()
        .ok_or_else(|| ProjectionError::Inconsistent("the rebuild produced no report".into()))
}

/// Rebuilds several projections from ONE read of the log. Each folds every event
/// into a working set of its own that starts empty (so nothing is ever loaded);
/// append-only tables are written after each batch and the rest at the end, with
/// COPY. Reading, folding and writing overlap: while batch N is folded, N+1 is
/// read and N−1's final rows are written.
pub async fn rebuild_many(
    db: &Db,
    store: &dyn EventStore,
    projections: &[&dyn Projection],
    verify: bool,
    mut progress: impl FnMut(u64, Position),
) -> Result<Vec<RebuildReport>, ProjectionError> {
    let started = Instant::now();
    for p in projections {
        prepare_scratch(db, *p).await?;
    }
    let mut sets: Vec<Rows> = projections
        .iter()
        .map(|p| Rows::for_rebuild(p.tables(), db.is_postgres()))
        .collect();
    let mut events = 0u64;
    let mut after = Position::START;
    // Read to at least the head seen now, waiting out events the gap-safe
    // horizon holds back for a moment behind another open transaction.
    let head = store.head().await?;
    let mut writing: Option<Writer> = None;
    // Two raw batches, reused throughout: one is folded while the next is read
    // into the other (no allocation per event for reading).
    let mut batch = RawBatch::default();
    let mut next = RawBatch::default();
    store.read_all_raw(after, REBUILD_BATCH, &mut batch).await?;
    loop {
        let Some(last) = batch.last_position() else {
            if after >= head {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            store.read_all_raw(after, REBUILD_BATCH, &mut batch).await?;
            continue;
        };
        let fold = async {
            for raw in batch.iter() {
                if let Some(event) = to_projected_raw(raw)? {
                    for (p, rows) in projections.iter().zip(sets.iter_mut()) {
                        p.apply(rows, &event)?;
                    }
                }
            }
            Ok::<_, ProjectionError>(())
        };
        // Three stages overlap: the next batch is read while this one is
        // folded, and this one's final rows are written (on a task of their
        // own) while the next is folded. One write in flight bounds memory.
        let (read, folded) = tokio::join!(store.read_all_raw(last, REBUILD_BATCH, &mut next), fold);
        folded?;
        let finals: Vec<FinalRows> = sets.iter_mut().map(Rows::take_final).collect();
        if let Some(previous) = writing.take() {
            previous.finish().await?;
        }
        writing = Some(Writer::spawn(db.clone(), finals));
        after = last;
        events += batch.len() as u64;
        progress(events, after);
        read?;
        std::mem::swap(&mut batch, &mut next);
    }
    if let Some(last_write) = writing.take() {
        last_write.finish().await?;
    }
    // Each read model's last write (the rows it kept, its indexes, fresh
    // statistics) is independent of the others': on PostgreSQL they run at
    // once, each on a connection of its own, so one's indexes are built while
    // another's rows are still being sent. SQLite has one writer: in turn.
    let finishing = projections
        .iter()
        .zip(sets)
        .map(|(p, rows)| finish_tables(db, *p, rows, after));
    if db.is_postgres() {
        futures::future::try_join_all(finishing).await?;
    } else {
        for finish in finishing {
            finish.await?;
        }
    }
    let mut reports = Vec::new();
    for p in projections {
        reports.push(finalize(db, store, *p, verify, events, started).await?);
    }
    Ok(reports)
}

/// Writes what a rebuild kept of `p`'s tables, builds their indexes, analyzes
/// them and records the position reached, in one transaction.
async fn finish_tables(
    db: &Db,
    p: &dyn Projection,
    rows: Rows,
    reached: Position,
) -> Result<(), ProjectionError> {
    let mut tx = db.begin().await?;
    rows.write_all(&mut tx, SUFFIX).await?;
    for statement in p
        .create_sql(SUFFIX)
        .iter()
        .filter(|s| s.starts_with("CREATE INDEX"))
    {
        exec!(&mut tx, statement)?;
    }
    // Fresh statistics before the tables go live: without them the planner
    // guesses a handful of rows per organization and sorts a 10,000-member
    // organization's rows for every page (56 ms instead of 0.1 ms, seen in
    // `scripts/bench` right after a replay).
    for table in p.tables() {
        exec!(&mut tx, &format!("ANALYZE {}{SUFFIX}", table.name))?;
    }
    exec!(
        &mut tx,
        "UPDATE projection_checkpoints SET position = $2 WHERE name = $1",
        scratch_name(p),
        pos_i64(reached)
    )?;
    tx.commit().await?;
    Ok(())
}

/// A batch's final rows being written on a task of their own. Dropping it (a
/// rebuild given up) aborts the task, and its transaction rolls back.
struct Writer(tokio::task::JoinHandle<Result<(), ProjectionError>>);

impl Writer {
    fn spawn(db: Db, finals: Vec<FinalRows>) -> Self {
        Self(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            for rows in finals {
                rows.write(&mut tx, SUFFIX).await?;
            }
            tx.commit().await?;
            Ok(())
        }))
    }

    /// Waits for the write; its failure is the rebuild's.
    async fn finish(mut self) -> Result<(), ProjectionError> {
        match (&mut self.0).await {
            Ok(outcome) => outcome,
            Err(e) => Err(ProjectionError::Inconsistent(format!(
                "the rebuild's writer stopped: {e}"
            ))),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn scratch_name(p: &dyn Projection) -> String {
    checkpoint_name(p, SUFFIX)
}

/// Fresh, empty `_rebuild` tables and a checkpoint at 0 for them.
async fn prepare_scratch(db: &Db, p: &dyn Projection) -> Result<(), ProjectionError> {
    ensure_installed(db, p).await?;
    let scratch = scratch_name(p);
    let mut tx = db.begin().await?;
    for table in p.tables() {
        exec!(
            &mut tx,
            &format!("DROP TABLE IF EXISTS {}{SUFFIX}", table.name)
        )?;
    }
    // A bulk load builds its indexes after the data (much faster than row by row).
    for statement in p.create_sql(SUFFIX) {
        if !statement.starts_with("CREATE INDEX") {
            exec!(&mut tx, &statement)?;
        }
    }
    exec!(
        &mut tx,
        "DELETE FROM projection_checkpoints WHERE name = $1",
        scratch.clone()
    )?;
    exec!(
        &mut tx,
        "INSERT INTO projection_checkpoints (name, version, position, updated_at) VALUES ($1, $2, 0, $3)",
        scratch,
        p.version(),
        time_text(Utc::now())
    )?;
    tx.commit().await?;
    Ok(())
}

/// Compares the rebuilt tables with the live ones, or swaps them in.
async fn finalize(
    db: &Db,
    store: &dyn EventStore,
    p: &dyn Projection,
    verify: bool,
    mut events: u64,
    started: Instant,
) -> Result<RebuildReport, ProjectionError> {
    let scratch = scratch_name(p);
    let mut differences = Vec::new();
    let swapped = if verify {
        // Compare at one position: bring whichever is behind up to the other.
        loop {
            let (live, rebuilt) = (
                checkpoint_of(db, p.name()).await?,
                checkpoint_of(db, &scratch).await?,
            );
            if live == rebuilt {
                break;
            }
            let (suffix, target) = if live < rebuilt {
                ("", rebuilt)
            } else {
                (SUFFIX, live)
            };
            let n = apply_batch(db, store, &[p], suffix, REBUILD_BATCH, Some(target)).await?;
            if suffix == SUFFIX {
                events += n as u64;
            }
        }
        for create in p
            .create_sql("")
            .iter()
            .filter(|s| s.starts_with("CREATE TABLE"))
        {
            let table = create
                .split_whitespace()
                .nth(2)
                .unwrap_or_default()
                .to_owned();
            let (a, b) = key_columns(create);
            let key = format!("CAST({a} AS TEXT) || ' ' || CAST({b} AS TEXT)");
            let only = |x: &str, y: &str| {
                format!("SELECT {key} FROM (SELECT * FROM {x} EXCEPT SELECT * FROM {y}) d ORDER BY 1 LIMIT 1000")
            };
            let only_live: Vec<(String,)> =
                fetch!(db db, fetch_all, (String,), &only(&table, &format!("{table}{SUFFIX}")))?;
            let only_rebuilt: Vec<(String,)> =
                fetch!(db db, fetch_all, (String,), &only(&format!("{table}{SUFFIX}"), &table))?;
            if !only_live.is_empty() || !only_rebuilt.is_empty() {
                differences.push(TableDifference {
                    table,
                    only_live: only_live.into_iter().map(|(r,)| r).collect(),
                    only_rebuilt: only_rebuilt.into_iter().map(|(r,)| r).collect(),
                });
            }
        }
        let mut tx = db.begin().await?;
        for table in p.tables() {
            exec!(
                &mut tx,
                &format!("DROP TABLE IF EXISTS {}{SUFFIX}", table.name)
            )?;
        }
        exec!(
            &mut tx,
            "DELETE FROM projection_checkpoints WHERE name = $1",
            scratch.clone()
        )?;
        tx.commit().await?;
        false
    } else {
        let position = checkpoint_of(db, &scratch).await?;
        let mut tx = db.begin().await?;
        for table in p.tables().iter().map(|t| t.name) {
            exec!(&mut tx, &format!("DROP TABLE {table}"))?;
            exec!(
                &mut tx,
                &format!("ALTER TABLE {table}{SUFFIX} RENAME TO {table}")
            )?;
        }
        // Indexes keep their scratch names after the rename. PostgreSQL renames them
        // in place; SQLite cannot, so there they are rebuilt under live names.
        let scratch_indexes: Vec<String> = p
            .create_sql(SUFFIX)
            .iter()
            .filter(|s| s.starts_with("CREATE INDEX"))
            .filter_map(|s| s.split_whitespace().nth(2).map(str::to_owned))
            .collect();
        let live_indexes: Vec<String> = p
            .create_sql("")
            .into_iter()
            .filter(|s| s.starts_with("CREATE INDEX"))
            .collect();
        for (scratch_index, live_statement) in scratch_indexes.iter().zip(&live_indexes) {
            if db.is_postgres() {
                let live_name = live_statement.split_whitespace().nth(2).unwrap_or_default();
                exec!(
                    &mut tx,
                    &format!("ALTER INDEX {scratch_index} RENAME TO {live_name}")
                )?;
            } else {
                exec!(&mut tx, &format!("DROP INDEX {scratch_index}"))?;
                exec!(&mut tx, live_statement)?;
            }
        }
        exec!(
            &mut tx,
            "UPDATE projection_checkpoints SET position = $2, version = $3, updated_at = $4, failure = NULL, \
             failed_position = NULL WHERE name = $1",
            p.name(),
            pos_i64(position),
            p.version(),
            time_text(Utc::now())
        )?;
        exec!(
            &mut tx,
            "DELETE FROM projection_checkpoints WHERE name = $1",
            scratch.clone()
        )?;
        tx.commit().await?;
        true
    };
    Ok(RebuildReport {
        projection: p.name().to_owned(),
        events,
        seconds: started.elapsed().as_secs_f64(),
        position: checkpoint_of(db, p.name()).await?,
        differences,
        swapped,
    })
}
