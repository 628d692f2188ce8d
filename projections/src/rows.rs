//! The rows a batch of events reads and changes, and how they reach the tables.
//!
//! Every read model is defined once, as a fold of events over a working set of
//! [`Rows`] (see [`Projection::apply`](crate::Projection::apply)). The projector
//! and `roster replay` run that one definition in two ways:
//!
//! * **a live batch** ([`apply_batch`]): a first pass over the batch only records
//!   which rows it will touch; one SELECT per table loads them; the second pass
//!   folds the events; one DELETE and one INSERT per changed table write back the
//!   rows that changed. A batch costs a few set-based statements, not one per event,
//!   and on PostgreSQL their text does not depend on the batch (arrays through
//!   `UNNEST`), so each is prepared once per connection.
//! * **a rebuild**: the whole log is folded into one working set that starts
//!   empty and so is [`Mode::Complete`] (nothing to load); append-only tables are
//!   written after every batch, the rest once at the end, with COPY.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use smallvec::SmallVec;

pub use crate::cell::Cell;
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use roster_storage::db::Tx;

/// A row's key (or a group's): held inline, as no table's key is wider than three
/// cells, so keeping a row's key allocates nothing.
pub type Key = SmallVec<[Cell; 3]>;

/// A row: inline up to four cells (the lookup tables' rows, access, deadlines,
/// links), so a new row of a narrow table allocates nothing either.
pub type Row = SmallVec<[Cell; 4]>;

/// What a column holds, so a loaded row decodes to the same cells a fold makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// TEXT NOT NULL.
    Text,
    /// BIGINT NOT NULL.
    Int,
    /// TEXT that may be NULL.
    NullableText,
}

/// One column of a read-model table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its name.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
}

/// A TEXT NOT NULL column.
pub const fn text(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Text,
    }
}

/// A BIGINT NOT NULL column.
pub const fn int(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Int,
    }
}

/// A TEXT column that may be NULL.
pub const fn nullable(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::NullableText,
    }
}

/// A read-model table as folds see it: its columns in order, its primary key
/// (the first `key` columns) and its unit of change (the first `group` columns,
/// `group <= key`): a batch loads, deletes and rewrites whole groups, so a fold
/// may replace every row of a group (all of one member's access rows) at once.
#[derive(Debug)]
pub struct Table {
    /// Base name (the live table; a rebuild appends a suffix).
    pub name: &'static str,
    /// Columns, in the order rows hold them.
    pub columns: &'static [Column],
    /// How many leading columns form the primary key.
    pub key: usize,
    /// How many leading columns form a group.
    pub group: usize,
    /// Rows are only ever added, each under a new key: nothing to load or delete.
    pub append_only: bool,
}

impl Table {
    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn group_list(&self) -> String {
        self.columns[..self.group]
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How a working set treats rows it has not been given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The first pass of a live batch: reads find nothing; every group used is noted.
    Record,
    /// The second pass: the noted groups are loaded; using any other is a bug.
    Loaded,
    /// Every row is here (a rebuild from empty tables): absent means absent.
    Complete,
}

struct State {
    table: &'static Table,
    rows: BTreeMap<Key, Row>,
    /// Groups the record pass noted (and the load fetched).
    wanted: BTreeSet<Key>,
    /// Groups changed since the last write.
    dirty: BTreeSet<Key>,
    /// Emptied row buffers, reused by the next new row (a fold that replaces a
    /// row or moves it to a new key allocates nothing).
    spare: Vec<Row>,
    /// Emptied text buffers of long texts, reused by [`Rows::text_buffer`].
    texts: Vec<String>,
    /// A rebuild's final rows of an append-only table, already in COPY's text
    /// format (see [`Rows::for_rebuild`]).
    copy: String,
}

/// Most emptied row buffers (and text buffers) a table keeps for reuse.
const SPARE_ROWS: usize = 256;

impl State {
    fn recycle(&mut self, mut row: Row) {
        for cell in row.drain(..) {
            if let Cell::Text(text) = cell {
                if text.is_heap_allocated() && self.texts.len() < SPARE_ROWS {
                    let mut buffer = text.into_string();
                    buffer.clear();
                    self.texts.push(buffer);
                }
            }
        }
        if self.spare.len() < SPARE_ROWS {
            self.spare.push(row);
        }
    }

    fn row_buffer(&mut self) -> Row {
        self.spare
            .pop()
            .unwrap_or_else(|| Row::with_capacity(self.table.columns.len()))
    }
}

/// A working set: the rows of some tables that a fold reads and changes.
pub struct Rows {
    mode: Mode,
    /// Append-only tables' rows go straight into COPY text instead of being kept.
    copy_final: bool,
    tables: Vec<State>,
    /// Where [`compose`](Rows::compose) writes.
    scratch: String,
}

/// How much COPY text a rebuild's last write sends at a time.
const COPY_PIECE: usize = 1 << 20;

/// Most bound parameters per statement (SQLite allows 32,766; PostgreSQL 65,535).
const MAX_PARAMS: usize = 30_000;

impl Rows {
    /// An empty working set over `tables`.
    pub fn new(mode: Mode, tables: &[&'static Table]) -> Self {
        Self {
            mode,
            copy_final: false,
            scratch: String::new(),
            tables: tables
                .iter()
                .map(|table| State {
                    table,
                    rows: BTreeMap::new(),
                    wanted: BTreeSet::new(),
                    dirty: BTreeSet::new(),
                    spare: Vec::new(),
                    texts: Vec::new(),
                    copy: String::new(),
                })
                .collect(),
        }
    }

    /// A rebuild's working set ([`Mode::Complete`]). With `copy_text` (PostgreSQL),
    /// the rows of append-only tables are written into COPY's text format as they
    /// are made, into one buffer per batch, instead of being kept as rows.
    pub fn for_rebuild(tables: &[&'static Table], copy_text: bool) -> Self {
        let mut rows = Self::new(Mode::Complete, tables);
        rows.copy_final = copy_text;
        rows
    }

    /// The state of `table`, after checking that `group` may be used.
    fn use_group(
        &mut self,
        table: &Table,
        group: &[Cell],
        write: bool,
    ) -> Result<&mut State, ProjectionError> {
        let mode = self.mode;
        let state = self
            .tables
            .iter_mut()
            .find(|s| std::ptr::eq(s.table, table))
            .ok_or_else(|| {
                ProjectionError::Inconsistent(format!(
                    "{} is not one of this projection's tables",
                    table.name
                ))
            })?;
        match mode {
            Mode::Record => {
                state.wanted.insert(group.iter().cloned().collect());
            }
            Mode::Loaded if !table.append_only && !state.wanted.contains(group) => {
                return Err(ProjectionError::Inconsistent(format!(
                    "{}: a fold used a row its first pass did not (its keys must come from the events alone)",
                    table.name
                )));
            }
            Mode::Loaded | Mode::Complete => {}
        }
        // Only a live batch writes back what changed; a rebuild writes every row
        // it holds, so it keeps no list (one allocation less per event and table).
        if write && mode == Mode::Loaded {
            state.dirty.insert(group.iter().cloned().collect());
        }
        Ok(state)
    }

    /// The row under `key`, if there is one.
    pub fn get(&mut self, table: &Table, key: &[Cell]) -> Result<Option<&[Cell]>, ProjectionError> {
        let state = self.use_group(table, &key[..table.group], false)?;
        Ok(state.rows.get(key).map(|row| row.as_slice()))
    }

    /// The row under `key` to change in place, if there is one.
    pub fn get_mut(
        &mut self,
        table: &Table,
        key: &[Cell],
    ) -> Result<Option<&mut [Cell]>, ProjectionError> {
        let state = self.use_group(table, &key[..table.group], true)?;
        Ok(state.rows.get_mut(key).map(|row| row.as_mut_slice()))
    }

    /// Inserts or replaces a whole row (its key is its first columns). A fold
    /// passes an array; the row is kept in a reused buffer.
    pub fn put(
        &mut self,
        table: &Table,
        row: impl IntoIterator<Item = Cell>,
    ) -> Result<(), ProjectionError> {
        let mode = self.mode;
        let copy_final = self.copy_final && table.append_only && mode == Mode::Complete;
        let state = self
            .tables
            .iter_mut()
            .find(|s| std::ptr::eq(s.table, table));
        let mut buffer = match state {
            Some(state) => state.row_buffer(),
            None => Row::new(),
        };
        buffer.extend(row);
        self.put_row(table, buffer, copy_final)
    }

    /// Inserts or replaces `row`, a buffer from [`take`](Rows::take) or
    /// [`duplicate`](Rows::duplicate).
    pub fn put_back(&mut self, table: &Table, row: Row) -> Result<(), ProjectionError> {
        let copy_final = self.copy_final && table.append_only && self.mode == Mode::Complete;
        self.put_row(table, row, copy_final)
    }

    fn put_row(
        &mut self,
        table: &Table,
        row: Row,
        copy_final: bool,
    ) -> Result<(), ProjectionError> {
        if row.len() != table.columns.len() {
            return Err(ProjectionError::Inconsistent(format!(
                "{}: a row of {} cells for {} columns",
                table.name,
                row.len(),
                table.columns.len()
            )));
        }
        let mode = self.mode;
        let state = self.use_group(table, &row[..table.group], true)?;
        if copy_final {
            copy_row(&row, &mut state.copy);
            state.recycle(row);
        } else if mode == Mode::Record {
            state.recycle(row);
        } else {
            let key: Key = row[..table.key].iter().cloned().collect();
            if let Some(old) = state.rows.insert(key, row) {
                state.recycle(old);
            }
        }
        Ok(())
    }

    /// Removes the row under `key` and hands it over (to change and
    /// [`put_back`](Rows::put_back), perhaps under another key).
    pub fn take(&mut self, table: &Table, key: &[Cell]) -> Result<Option<Row>, ProjectionError> {
        let state = self.use_group(table, &key[..table.group], true)?;
        Ok(state.rows.remove(key))
    }

    /// A copy of `row` in a reused buffer of `table`'s.
    pub fn duplicate(&mut self, table: &Table, row: &[Cell]) -> Row {
        match self
            .tables
            .iter_mut()
            .find(|s| std::ptr::eq(s.table, table))
        {
            Some(state) => {
                let mut copy = state.row_buffer();
                copy.extend(row.iter().cloned());
                copy
            }
            None => row.iter().cloned().collect(),
        }
    }

    /// An empty `String` for a long text of a `table` row (the history's
    /// summary): the buffer of a long text of a row `table` dropped, when there
    /// is one, so writing a row a batch then lets go of allocates nothing.
    pub fn text_buffer(&mut self, table: &Table) -> String {
        self.tables
            .iter_mut()
            .find(|s| std::ptr::eq(s.table, table))
            .and_then(|state| state.texts.pop())
            .unwrap_or_default()
    }

    /// A text cell composed by `write` in a buffer the working set reuses: held
    /// inline when short, one allocation of its exact size when long (a label
    /// kept in a row that lasts).
    pub fn compose(&mut self, write: impl FnOnce(&mut String)) -> Cell {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        write(&mut scratch);
        let cell = Cell::text(&scratch);
        self.scratch = scratch;
        cell
    }

    /// Gives back a row buffer no longer needed, for reuse.
    pub fn discard(&mut self, table: &Table, row: Row) {
        if let Some(state) = self
            .tables
            .iter_mut()
            .find(|s| std::ptr::eq(s.table, table))
        {
            state.recycle(row);
        }
    }

    /// Removes the row under `key`, if there is one.
    pub fn remove(&mut self, table: &Table, key: &[Cell]) -> Result<(), ProjectionError> {
        let state = self.use_group(table, &key[..table.group], true)?;
        if let Some(row) = state.rows.remove(key) {
            state.recycle(row);
        }
        Ok(())
    }

    /// Removes every row of `group`.
    pub fn remove_group(&mut self, table: &Table, group: &[Cell]) -> Result<(), ProjectionError> {
        let state = self.use_group(table, group, true)?;
        loop {
            let first = state
                .rows
                .range::<[Cell], _>((Bound::Included(group), Bound::Unbounded))
                .next()
                .filter(|(k, _)| k.starts_with(group))
                .map(|(k, _)| k.clone());
            let Some(key) = first else { break };
            if let Some(row) = state.rows.remove(&key) {
                state.recycle(row);
            }
        }
        Ok(())
    }

    /// Loads every group the record pass noted, one SELECT per table (more only
    /// past SQLite's parameter limit), and turns to [`Mode::Loaded`].
    pub async fn load(&mut self, tx: &mut Tx, suffix: &str) -> Result<(), ProjectionError> {
        for state in &mut self.tables {
            let table = state.table;
            if table.append_only || state.wanted.is_empty() {
                continue;
            }
            let groups: Vec<&[Cell]> = state.wanted.iter().map(|g| g.as_slice()).collect();
            let head = format!(
                "SELECT {} FROM {}{suffix} WHERE ({}) IN",
                table.column_list(),
                table.name,
                table.group_list()
            );
            for row in select_groups(tx, &head, table, &groups).await? {
                state
                    .rows
                    .insert(row[..table.key].iter().cloned().collect(), row);
            }
        }
        self.mode = Mode::Loaded;
        Ok(())
    }

    /// Writes back every changed group: one DELETE of those groups and one INSERT
    /// of their rows now, per table (append-only tables: the INSERT alone).
    pub async fn write(&mut self, tx: &mut Tx, suffix: &str) -> Result<(), ProjectionError> {
        for state in &mut self.tables {
            let table = state.table;
            if state.dirty.is_empty() {
                continue;
            }
            let dirty = std::mem::take(&mut state.dirty);
            if !table.append_only {
                let groups: Vec<&[Cell]> = dirty.iter().map(|g| g.as_slice()).collect();
                let head = format!(
                    "DELETE FROM {}{suffix} WHERE ({}) IN",
                    table.name,
                    table.group_list()
                );
                delete_groups(tx, &head, table, &groups).await?;
            }
            let mut rows: Vec<&[Cell]> = Vec::new();
            for group in &dirty {
                rows.extend(
                    state
                        .rows
                        .range::<[Cell], _>((Bound::Included(group.as_slice()), Bound::Unbounded))
                        .take_while(|(k, _)| k.starts_with(group))
                        .map(|(_, row)| row.as_slice()),
                );
            }
            insert_few(tx, suffix, table, &rows).await?;
        }
        Ok(())
    }

    /// A rebuild's take after each batch: the rows of append-only tables, which
    /// are final as soon as they are made, leave memory, to be written (with
    /// [`FinalRows::write`]) while the next batch is folded.
    pub fn take_final(&mut self) -> FinalRows {
        let mut finals = Vec::new();
        for state in &mut self.tables {
            if !state.table.append_only {
                continue;
            }
            if !state.copy.is_empty() {
                let capacity = state.copy.capacity();
                let text = std::mem::replace(&mut state.copy, String::with_capacity(capacity));
                finals.push((state.table, Final::CopyText(text)));
            }
            if !state.rows.is_empty() {
                let rows = std::mem::take(&mut state.rows).into_values().collect();
                finals.push((state.table, Final::Rows(rows)));
            }
        }
        FinalRows(finals)
    }

    /// A rebuild's last write: every row left, into tables that are still empty.
    pub async fn write_all(mut self, tx: &mut Tx, suffix: &str) -> Result<(), ProjectionError> {
        self.take_final().write(tx, suffix).await?;
        for state in &mut self.tables {
            let rows: Vec<Row> = std::mem::take(&mut state.rows).into_values().collect();
            insert_rows(tx, suffix, state.table, &rows).await?;
        }
        Ok(())
    }
}

/// One table's final rows: kept as rows, or already COPY text.
enum Final {
    Rows(Vec<Row>),
    CopyText(String),
}

/// Rows of append-only tables taken from a working set (see [`Rows::take_final`]):
/// owned, so a rebuild writes them on a task of its own.
pub struct FinalRows(Vec<(&'static Table, Final)>);

impl FinalRows {
    /// Writes them into the tables with `suffix` (COPY on PostgreSQL).
    pub async fn write(self, tx: &mut Tx, suffix: &str) -> Result<(), ProjectionError> {
        for (table, rows) in self.0 {
            match rows {
                Final::Rows(rows) => insert_rows(tx, suffix, table, &rows).await?,
                Final::CopyText(text) => copy_in(tx, suffix, table, text).await?,
            }
        }
        Ok(())
    }
}

/// Folds `events` into `p`'s tables with `suffix` inside `tx`: record, load,
/// fold, write (see the module's documentation).
pub async fn apply_batch(
    tx: &mut Tx,
    suffix: &str,
    p: &dyn Projection,
    events: &[&ProjectedEvent],
) -> Result<(), ProjectionError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut rows = Rows::new(Mode::Record, p.tables());
    for event in events {
        p.apply(&mut rows, event)?;
    }
    rows.load(tx, suffix).await?;
    for event in events {
        p.apply(&mut rows, event)?;
    }
    rows.write(tx, suffix).await
}

/// `VALUES ($1, $2), ($3, $4)`: `rows` tuples of `width` placeholders.
fn values_list(rows: usize, width: usize) -> String {
    let mut sql = String::with_capacity(rows * width * 5 + 8);
    sql.push_str("VALUES ");
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            n += 1;
            sql.push('$');
            sql.push_str(&n.to_string());
        }
        sql.push(')');
    }
    sql
}

/// Binds each cell of `cells` to `$q` in turn.
macro_rules! bind_cells {
    ($q:expr, $cells:expr) => {{
        let mut q = $q;
        for cell in $cells {
            q = match cell {
                Cell::Text(s) => q.bind(s.as_str()),
                Cell::Int(i) => q.bind(*i),
                Cell::Null => q.bind(None::<String>),
                other => q.bind(other.to_text()),
            };
        }
        q
    }};
}

/// Decodes a row's columns as the table declares them.
macro_rules! decode_cells {
    ($row:expr, $columns:expr) => {{
        use sqlx::Row;
        let mut cells = crate::rows::Row::with_capacity($columns.len());
        for (i, column) in $columns.iter().enumerate() {
            cells.push(match column.kind {
                Kind::Text => Cell::from($row.try_get::<String, _>(i)?),
                Kind::Int => Cell::Int($row.try_get::<i64, _>(i)?),
                Kind::NullableText => Cell::from($row.try_get::<Option<String>, _>(i)?),
            });
        }
        cells
    }};
}

async fn select_cells<'c>(
    tx: &mut Tx,
    sql: &str,
    binds: impl Iterator<Item = &'c Cell>,
    columns: &[Column],
) -> Result<Vec<Row>, ProjectionError> {
    let mut out = Vec::new();
    match tx {
        Tx::Pg(t) => {
            for row in bind_cells!(sqlx::query(sql), binds)
                .fetch_all(&mut **t)
                .await?
            {
                out.push(decode_cells!(row, columns));
            }
        }
        Tx::Sqlite(t) => {
            for row in bind_cells!(sqlx::query(sql), binds)
                .fetch_all(&mut **t)
                .await?
            {
                out.push(decode_cells!(row, columns));
            }
        }
    }
    Ok(out)
}

async fn execute_cells<'c>(
    tx: &mut Tx,
    sql: &str,
    binds: impl Iterator<Item = &'c Cell>,
) -> Result<(), ProjectionError> {
    match tx {
        Tx::Pg(t) => {
            bind_cells!(sqlx::query(sql), binds)
                .execute(&mut **t)
                .await?;
        }
        Tx::Sqlite(t) => {
            bind_cells!(sqlx::query(sql), binds)
                .execute(&mut **t)
                .await?;
        }
    }
    Ok(())
}

/// `UNNEST($1::text[], $2::bigint[], …)` over `columns`, the parameters from `$1`.
fn unnest_list(columns: &[Column]) -> String {
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let kind = match c.kind {
                Kind::Int => "bigint",
                Kind::Text | Kind::NullableText => "text",
            };
            format!("${}::{kind}[]", i + 1)
        })
        .collect();
    format!("UNNEST({})", arrays.join(", "))
}

/// Column `i` of `rows`, as the array PostgreSQL's `UNNEST` takes.
enum Array {
    Text(Vec<String>),
    Int(Vec<i64>),
    NullableText(Vec<Option<String>>),
}

fn column_array<'r>(
    rows: &[&'r [Cell]],
    i: usize,
    column: &Column,
) -> Result<Array, ProjectionError> {
    let wrong = |cell: &Cell| {
        ProjectionError::Inconsistent(format!(
            "column {} holds {cell:?}, which is not a {:?}",
            column.name, column.kind
        ))
    };
    static NULL: Cell = Cell::Null;
    let cell = |row: &&'r [Cell]| row.get(i).unwrap_or(&NULL);
    Ok(match column.kind {
        Kind::Text => Array::Text(
            rows.iter()
                .map(|r| {
                    let c = cell(r);
                    c.to_text().ok_or_else(|| wrong(c))
                })
                .collect::<Result<_, _>>()?,
        ),
        Kind::Int => Array::Int(
            rows.iter()
                .map(|r| match cell(r) {
                    Cell::Int(v) => Ok(*v),
                    other => Err(wrong(other)),
                })
                .collect::<Result<_, _>>()?,
        ),
        Kind::NullableText => Array::NullableText(
            rows.iter()
                .map(|r| match cell(r) {
                    Cell::Null => Ok(None),
                    Cell::Int(_) => Err(wrong(cell(r))),
                    other => Ok(other.to_text()),
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// `query` with the first `width` columns of `rows` bound as arrays.
fn bind_arrays<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    columns: &[Column],
    rows: &[&[Cell]],
) -> Result<sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>, ProjectionError> {
    for (i, column) in columns.iter().enumerate() {
        query = match column_array(rows, i, column)? {
            Array::Text(v) => query.bind(v),
            Array::Int(v) => query.bind(v),
            Array::NullableText(v) => query.bind(v),
        };
    }
    Ok(query)
}

/// Runs `head` (ending in `… IN`) over `groups`: on PostgreSQL one statement
/// whose text does not depend on how many groups there are (`IN (SELECT * FROM
/// UNNEST(…))`), so each connection prepares it once and reuses its plan; on
/// SQLite a VALUES list, as long as its parameter limit allows.
async fn select_groups(
    tx: &mut Tx,
    head: &str,
    table: &Table,
    groups: &[&[Cell]],
) -> Result<Vec<Row>, ProjectionError> {
    let key_columns = &table.columns[..table.group];
    if let Tx::Pg(t) = tx {
        let sql = format!("{head} (SELECT * FROM {})", unnest_list(key_columns));
        let mut out = Vec::new();
        for row in bind_arrays(sqlx::query(&sql), key_columns, groups)?
            .fetch_all(&mut **t)
            .await?
        {
            out.push(decode_cells!(row, table.columns));
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    for chunk in groups.chunks((MAX_PARAMS / table.group).max(1)) {
        let sql = format!("{head} ({})", values_list(chunk.len(), table.group));
        out.extend(
            select_cells(tx, &sql, chunk.iter().flat_map(|g| g.iter()), table.columns).await?,
        );
    }
    Ok(out)
}

/// Like [`select_groups`], for a DELETE.
async fn delete_groups(
    tx: &mut Tx,
    head: &str,
    table: &Table,
    groups: &[&[Cell]],
) -> Result<(), ProjectionError> {
    let key_columns = &table.columns[..table.group];
    if let Tx::Pg(t) = tx {
        let sql = format!("{head} (SELECT * FROM {})", unnest_list(key_columns));
        bind_arrays(sqlx::query(&sql), key_columns, groups)?
            .execute(&mut **t)
            .await?;
        return Ok(());
    }
    for chunk in groups.chunks((MAX_PARAMS / table.group).max(1)) {
        let sql = format!("{head} ({})", values_list(chunk.len(), table.group));
        execute_cells(tx, &sql, chunk.iter().flat_map(|g| g.iter())).await?;
    }
    Ok(())
}

/// A live batch's few rows into `<table><suffix>`: on PostgreSQL one prepared
/// `INSERT … SELECT * FROM UNNEST(…)` (COPY costs more than it saves for a few
/// rows), on SQLite multi-row INSERTs.
async fn insert_few(
    tx: &mut Tx,
    suffix: &str,
    table: &Table,
    rows: &[&[Cell]],
) -> Result<(), ProjectionError> {
    if rows.is_empty() {
        return Ok(());
    }
    if let Tx::Pg(t) = tx {
        let sql = format!(
            "INSERT INTO {}{suffix} ({}) SELECT * FROM {}",
            table.name,
            table.column_list(),
            unnest_list(table.columns)
        );
        bind_arrays(sqlx::query(&sql), table.columns, rows)?
            .execute(&mut **t)
            .await?;
        return Ok(());
    }
    let width = table.columns.len().max(1);
    for chunk in rows.chunks((MAX_PARAMS / width).max(1)) {
        let sql = format!(
            "INSERT INTO {}{suffix} ({}) {}",
            table.name,
            table.column_list(),
            values_list(chunk.len(), width)
        );
        execute_cells(tx, &sql, chunk.iter().flat_map(|r| r.iter())).await?;
    }
    Ok(())
}

/// One value in PostgreSQL's COPY text format.
fn copy_text(cell: &Cell, out: &mut String) {
    match cell {
        Cell::Null => out.push_str("\\N"),
        Cell::Text(s) => {
            // Copies the runs between characters COPY needs escaped whole (most
            // values have none), instead of pushing one character at a time.
            let mut rest = s.as_str();
            while let Some(at) = rest.find(['\\', '\t', '\n', '\r']) {
                out.push_str(&rest[..at]);
                let escaped = match rest.as_bytes()[at] {
                    b'\\' => "\\\\",
                    b'\t' => "\\t",
                    b'\n' => "\\n",
                    _ => "\\r",
                };
                out.push_str(escaped);
                rest = &rest[at + 1..];
            }
            out.push_str(rest);
        }
        // Digits, hex, hyphens and a time: nothing COPY reads specially.
        other => other.push_to(out),
    }
}

/// One row in COPY's text format, with its line end.
fn copy_row(row: &[Cell], out: &mut String) {
    for (i, cell) in row.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        copy_text(cell, out);
    }
    out.push('\n');
}

/// Sends `data` (rows in COPY's text format) into `<table><suffix>`.
async fn copy_in(
    tx: &mut Tx,
    suffix: &str,
    table: &Table,
    data: String,
) -> Result<(), ProjectionError> {
    let Tx::Pg(t) = tx else {
        return Err(ProjectionError::Inconsistent(format!(
            "{}: COPY text for a database that has no COPY",
            table.name
        )));
    };
    let statement = format!(
        "COPY {}{suffix} ({}) FROM STDIN",
        table.name,
        table.column_list()
    );
    let mut copy = t.copy_in_raw(&statement).await?;
    copy.send(data.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// Writes `rows` into `<table><suffix>`: one COPY on PostgreSQL, multi-row INSERTs
/// (as large as parameter limits allow) on SQLite.
pub async fn insert_rows(
    tx: &mut Tx,
    suffix: &str,
    table: &Table,
    rows: &[Row],
) -> Result<(), ProjectionError> {
    if rows.is_empty() {
        return Ok(());
    }
    if let Tx::Pg(t) = tx {
        // Sent in pieces as they are made: PostgreSQL reads one while the next is
        // written (and a table's rows never sit in memory twice, whole).
        let statement = format!(
            "COPY {}{suffix} ({}) FROM STDIN",
            table.name,
            table.column_list()
        );
        let mut copy = t.copy_in_raw(&statement).await?;
        let mut data = String::with_capacity(COPY_PIECE + 4096);
        for row in rows {
            copy_row(row, &mut data);
            if data.len() >= COPY_PIECE {
                copy.send(data.as_bytes()).await?;
                data.clear();
            }
        }
        if !data.is_empty() {
            copy.send(data.as_bytes()).await?;
        }
        copy.finish().await?;
        return Ok(());
    }
    let width = table.columns.len().max(1);
    for chunk in rows.chunks((MAX_PARAMS / width).max(1)) {
        let sql = format!(
            "INSERT INTO {}{suffix} ({}) {}",
            table.name,
            table.column_list(),
            values_list(chunk.len(), width)
        );
        execute_cells(tx, &sql, chunk.iter().flatten()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    static PAIRS: Table = Table {
        name: "pairs",
        columns: &[text("a"), text("b"), text("v")],
        key: 2,
        group: 1,
        append_only: false,
    };

    #[test]
    fn copy_text_escapes_what_copy_reads_specially_and_keeps_the_rest() {
        let mut out = String::new();
        for cell in [
            Cell::from("plain ünïcödé"),
            Cell::from("a\\b\tc\nd\re\\"),
            Cell::Null,
            Cell::Int(-42),
            Cell::from(""),
        ] {
            copy_text(&cell, &mut out);
            out.push('|');
        }
        assert_eq!(out, "plain ünïcödé|a\\\\b\\tc\\nd\\re\\\\|\\N|-42||");
    }

    #[test]
    fn a_group_is_removed_whole_and_its_neighbours_stay() {
        let mut rows = Rows::new(Mode::Complete, &[&PAIRS]);
        for (a, b) in [("x", "1"), ("x", "2"), ("xy", "1"), ("y", "1")] {
            rows.put(&PAIRS, vec![a.into(), b.into(), "v".into()])
                .expect("put");
        }
        rows.remove_group(&PAIRS, &["x".into()]).expect("remove");
        let left: Vec<Vec<Cell>> = rows.tables[0].rows.keys().map(|k| k.to_vec()).collect();
        assert_eq!(
            left,
            vec![
                vec![Cell::from("xy"), Cell::from("1")],
                vec![Cell::from("y"), Cell::from("1")]
            ]
        );
    }

    #[test]
    fn a_row_the_first_pass_did_not_note_is_refused() {
        let mut rows = Rows::new(Mode::Record, &[&PAIRS]);
        rows.get(&PAIRS, &["x".into(), "1".into()]).expect("noted");
        rows.mode = Mode::Loaded;
        assert!(
            rows.get(&PAIRS, &["x".into(), "2".into()]).is_ok(),
            "same group"
        );
        assert!(rows.get(&PAIRS, &["z".into(), "1".into()]).is_err());
    }

    #[test]
    fn placeholders_count_on_across_rows() {
        assert_eq!(values_list(2, 2), "VALUES ($1, $2), ($3, $4)");
    }
}
