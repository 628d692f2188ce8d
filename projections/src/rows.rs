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
//!
//! A rebuild folds millions of events, so the working set is laid out to make
//! none of them allocate: a table's rows are slots of one growing buffer of
//! [`Cell`]s (a removed row's slot is reused), keys are held inline, a cell
//! keeps an id or a time as its value, and on PostgreSQL long texts go to one
//! arena ([`Cell::Kept`]) and append-only rows straight into COPY text. What is
//! left is the growth of those buffers and of the key maps, not a cost per event.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use smallvec::SmallVec;

pub use crate::cell::{Cell, Span};
use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use roster_storage::db::Tx;

/// A row's key (or a group's): held inline, as no table's key is wider than three
/// cells, so keeping a row's key allocates nothing.
pub type Key = SmallVec<[Cell; 3]>;

/// A row as a live batch loads it from a table, before it moves into the
/// table's buffer (inline up to four cells).
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
    /// Cells per row.
    width: usize,
    /// Each row's key and the slot that holds its cells.
    index: BTreeMap<Key, usize>,
    /// Every row's cells, `width` per slot: one buffer that grows, not one
    /// allocation per row.
    cells: Vec<Cell>,
    /// Slots of removed rows, reused first.
    free: Vec<usize>,
    /// Groups the record pass noted (and the load fetched).
    wanted: BTreeSet<Key>,
    /// Groups changed since the last write.
    dirty: BTreeSet<Key>,
    /// Emptied buffers of long texts, reused by [`Rows::text_buffer`].
    texts: Vec<String>,
    /// A rebuild's final rows of an append-only table, already in COPY's text
    /// format (see [`Rows::for_rebuild`]).
    copy: String,
}

/// Most emptied text buffers a table keeps for reuse.
const SPARE_TEXTS: usize = 256;

impl State {
    fn new(table: &'static Table) -> Self {
        Self {
            table,
            width: table.columns.len(),
            index: BTreeMap::new(),
            cells: Vec::new(),
            free: Vec::new(),
            wanted: BTreeSet::new(),
            dirty: BTreeSet::new(),
            texts: Vec::new(),
            copy: String::new(),
        }
    }

    fn slot(&self, slot: usize) -> &[Cell] {
        &self.cells[slot * self.width..(slot + 1) * self.width]
    }

    fn slot_mut(&mut self, slot: usize) -> &mut [Cell] {
        &mut self.cells[slot * self.width..(slot + 1) * self.width]
    }

    /// Keeps a long text's buffer for reuse.
    fn pool(&mut self, cell: Cell) {
        if let Cell::Text(text) = cell {
            if text.is_heap_allocated() && self.texts.len() < SPARE_TEXTS {
                let mut buffer = text.into_string();
                buffer.clear();
                self.texts.push(buffer);
            }
        }
    }

    /// Empties a slot (its texts pooled) and frees it.
    fn release(&mut self, slot: usize) {
        for i in slot * self.width..(slot + 1) * self.width {
            let cell = std::mem::replace(&mut self.cells[i], Cell::Null);
            self.pool(cell);
        }
        self.free.push(slot);
    }

    /// Stores the cells drained from `row` under `key`, replacing any row there.
    fn store(&mut self, key: Key, row: &mut Vec<Cell>) {
        let slot = match self.index.get(&key) {
            Some(&slot) => slot,
            None => {
                let slot = self.free.pop().unwrap_or_else(|| {
                    let slot = self.cells.len() / self.width.max(1);
                    self.cells
                        .resize_with(self.cells.len() + self.width, || Cell::Null);
                    slot
                });
                self.index.insert(key, slot);
                slot
            }
        };
        for i in 0..self.width {
            let cell = std::mem::replace(&mut self.cells[slot * self.width + i], Cell::Null);
            self.pool(cell);
        }
        for (place, cell) in self.slot_mut(slot).iter_mut().zip(row.drain(..)) {
            *place = cell;
        }
    }

    /// Every row, in key order.
    fn all_rows(&self) -> Vec<&[Cell]> {
        self.index.values().map(|&slot| self.slot(slot)).collect()
    }
}

/// A working set: the rows of some tables that a fold reads and changes.
pub struct Rows {
    mode: Mode,
    /// Append-only tables' rows go straight into COPY text instead of being
    /// kept, and long texts into `arena` (a rebuild on PostgreSQL).
    copy_final: bool,
    tables: Vec<State>,
    /// The row being put (reused).
    incoming: Vec<Cell>,
    /// Where [`compose`](Rows::compose) writes when texts are not kept in the arena.
    scratch: String,
    /// A rebuild's long texts, one after another ([`Cell::Kept`] spans).
    arena: String,
}

/// How much COPY text a rebuild's last write sends at a time.
const COPY_PIECE: usize = 1 << 20;

/// Most bound parameters per statement (SQLite allows 32,766; PostgreSQL 65,535).
const MAX_PARAMS: usize = 30_000;

/// The state of `table` among `tables`, after checking that `group` may be used
/// in `mode` (and noting it, as the mode asks).
fn state_for<'s>(
    tables: &'s mut [State],
    mode: Mode,
    table: &Table,
    group: &[Cell],
    write: bool,
) -> Result<&'s mut State, ProjectionError> {
    let state = tables
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
    // it holds, so it keeps no list.
    if write && mode == Mode::Loaded {
        state.dirty.insert(group.iter().cloned().collect());
    }
    Ok(state)
}

/// The text of a cell, a kept one read from `arena`.
fn text_in<'a>(cell: &'a Cell, arena: &'a str) -> Option<&'a str> {
    match cell {
        Cell::Text(s) => Some(s.as_str()),
        Cell::Kept(span) => span.get(arena),
        _ => None,
    }
}

impl Rows {
    /// An empty working set over `tables`.
    pub fn new(mode: Mode, tables: &[&'static Table]) -> Self {
        Self {
            mode,
            copy_final: false,
            tables: tables.iter().map(|table| State::new(table)).collect(),
            incoming: Vec::new(),
            scratch: String::new(),
            arena: String::new(),
        }
    }

    /// A rebuild's working set ([`Mode::Complete`]). With `copy_text` (PostgreSQL),
    /// the rows of append-only tables are written into COPY's text format as they
    /// are made, into one buffer per batch, instead of being kept as rows, and
    /// long texts are kept in one arena instead of an allocation each.
    pub fn for_rebuild(tables: &[&'static Table], copy_text: bool) -> Self {
        let mut rows = Self::new(Mode::Complete, tables);
        rows.copy_final = copy_text;
        rows
    }

    /// Whether long texts go to the arena.
    fn keeps_texts(&self) -> bool {
        self.copy_final && self.mode == Mode::Complete
    }

    /// A text cell for `s`: inline when short; when long, kept in the arena in a
    /// rebuild on PostgreSQL (no allocation of its own), else a `String` of its own.
    pub fn text(&mut self, s: &str) -> Cell {
        if s.len() <= INLINE || !self.keeps_texts() {
            return Cell::text(s);
        }
        let at = self.arena.len();
        self.arena.push_str(s);
        Cell::Kept(Span { at, len: s.len() })
    }

    /// [`text`](Rows::text) of `s` in lower case, exactly as `str::to_lowercase`
    /// makes it (the member list's sort key).
    pub fn lowercase(&mut self, s: &str) -> Cell {
        if !s.is_ascii() {
            return Cell::from(s.to_lowercase());
        }
        if !s.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.text(s);
        }
        self.compose(|out| out.extend(s.chars().map(|c| c.to_ascii_lowercase())))
    }

    /// A text cell composed by `write`: written straight into the arena when
    /// texts are kept there, else into a reused buffer (one allocation of exact
    /// size when long). A label kept in a row that lasts.
    pub fn compose(&mut self, write: impl FnOnce(&mut String)) -> Cell {
        if self.keeps_texts() {
            let at = self.arena.len();
            write(&mut self.arena);
            let len = self.arena.len() - at;
            if len > INLINE {
                return Cell::Kept(Span { at, len });
            }
            let cell = Cell::text(&self.arena[at..]);
            self.arena.truncate(at);
            return cell;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        write(&mut scratch);
        let cell = Cell::text(&scratch);
        self.scratch = scratch;
        cell
    }

    /// The state of `table` for the row under `key` (see [`state_for`]).
    fn state_of(
        &mut self,
        table: &Table,
        key: &[Cell],
        write: bool,
    ) -> Result<&mut State, ProjectionError> {
        state_for(
            &mut self.tables,
            self.mode,
            table,
            &key[..table.group],
            write,
        )
    }

    /// The row under `key`, if there is one (a kept text reads through
    /// [`text_at`](Rows::text_at)).
    pub fn get(&mut self, table: &Table, key: &[Cell]) -> Result<Option<&[Cell]>, ProjectionError> {
        let state = self.state_of(table, key, false)?;
        Ok(state.index.get(key).map(|&slot| state.slot(slot)))
    }

    /// The text in `column` of the row under `key`, if there is such a row and
    /// the column holds text.
    pub fn text_at(
        &mut self,
        table: &Table,
        key: &[Cell],
        column: usize,
    ) -> Result<Option<&str>, ProjectionError> {
        let state = state_for(
            &mut self.tables,
            self.mode,
            table,
            &key[..table.group],
            false,
        )?;
        Ok(state
            .index
            .get(key)
            .and_then(|&slot| state.slot(slot).get(column))
            .and_then(|cell| text_in(cell, &self.arena)))
    }

    /// The row under `key` to change in place, if there is one.
    pub fn get_mut(
        &mut self,
        table: &Table,
        key: &[Cell],
    ) -> Result<Option<&mut [Cell]>, ProjectionError> {
        let state = self.state_of(table, key, true)?;
        match state.index.get(key) {
            Some(&slot) => Ok(Some(state.slot_mut(slot))),
            None => Ok(None),
        }
    }

    /// Inserts or replaces a whole row (its key is its first columns). A fold
    /// passes an array; its cells move into the table's buffer.
    pub fn put(
        &mut self,
        table: &Table,
        row: impl IntoIterator<Item = Cell>,
    ) -> Result<(), ProjectionError> {
        let mut incoming = std::mem::take(&mut self.incoming);
        incoming.clear();
        incoming.extend(row);
        let outcome = self.put_incoming(table, &mut incoming);
        incoming.clear();
        self.incoming = incoming;
        outcome
    }

    fn put_incoming(&mut self, table: &Table, row: &mut Vec<Cell>) -> Result<(), ProjectionError> {
        if row.len() != table.columns.len() {
            return Err(ProjectionError::Inconsistent(format!(
                "{}: a row of {} cells for {} columns",
                table.name,
                row.len(),
                table.columns.len()
            )));
        }
        if row[..table.key].iter().any(|c| matches!(c, Cell::Kept(_))) {
            return Err(ProjectionError::Inconsistent(format!(
                "{}: a key cell was kept in the text arena",
                table.name
            )));
        }
        let copy_final = self.copy_final && table.append_only && self.mode == Mode::Complete;
        let mode = self.mode;
        let state = state_for(&mut self.tables, mode, table, &row[..table.group], true)?;
        if copy_final {
            copy_row(row, &self.arena, &mut state.copy);
            for cell in row.drain(..) {
                state.pool(cell);
            }
        } else if mode == Mode::Record {
            row.clear();
        } else {
            let key: Key = row[..table.key].iter().cloned().collect();
            state.store(key, row);
        }
        Ok(())
    }

    /// Copies the row under `key` to the key `edit` gives it (changing its first
    /// columns, within the same group), keeping the original: a membership
    /// period closed under its end while the open one goes on. Answers whether
    /// there was a row to copy.
    pub fn copy_under(
        &mut self,
        table: &Table,
        key: &[Cell],
        edit: impl FnOnce(&mut [Cell]),
    ) -> Result<bool, ProjectionError> {
        let mut incoming = std::mem::take(&mut self.incoming);
        incoming.clear();
        let state = self.state_of(table, key, true)?;
        let Some(&slot) = state.index.get(key) else {
            self.incoming = incoming;
            return Ok(false);
        };
        incoming.extend(state.slot(slot).iter().cloned());
        edit(&mut incoming);
        let outcome = self.put_incoming(table, &mut incoming);
        incoming.clear();
        self.incoming = incoming;
        outcome.map(|()| true)
    }

    /// An empty `String` for a long text of a `table` row (the history's
    /// summary): the buffer of a long text of a row `table` let go of, when
    /// there is one, so writing a row a batch then lets go of allocates nothing.
    pub fn text_buffer(&mut self, table: &Table) -> String {
        self.tables
            .iter_mut()
            .find(|s| std::ptr::eq(s.table, table))
            .and_then(|state| state.texts.pop())
            .unwrap_or_default()
    }

    /// Removes the row under `key`, if there is one.
    pub fn remove(&mut self, table: &Table, key: &[Cell]) -> Result<(), ProjectionError> {
        let state = self.state_of(table, key, true)?;
        if let Some(slot) = state.index.remove(key) {
            state.release(slot);
        }
        Ok(())
    }

    /// Removes every row of `group`.
    pub fn remove_group(&mut self, table: &Table, group: &[Cell]) -> Result<(), ProjectionError> {
        let state = state_for(&mut self.tables, self.mode, table, group, true)?;
        loop {
            let first = state
                .index
                .range::<[Cell], _>((Bound::Included(group), Bound::Unbounded))
                .next()
                .filter(|(k, _)| k.starts_with(group))
                .map(|(k, _)| k.clone());
            let Some(key) = first else { break };
            if let Some(slot) = state.index.remove(&key) {
                state.release(slot);
            }
        }
        Ok(())
    }

    /// Loads every group the record pass noted, one SELECT per table (more only
    /// past SQLite's parameter limit), and turns to [`Mode::Loaded`].
    pub async fn load(&mut self, tx: &mut Tx, suffix: &str) -> Result<(), ProjectionError> {
        let mut incoming = std::mem::take(&mut self.incoming);
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
                incoming.clear();
                incoming.extend(row);
                let key: Key = incoming[..table.key].iter().cloned().collect();
                state.store(key, &mut incoming);
            }
        }
        incoming.clear();
        self.incoming = incoming;
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
                        .index
                        .range::<[Cell], _>((Bound::Included(group.as_slice()), Bound::Unbounded))
                        .take_while(|(k, _)| k.starts_with(group))
                        .map(|(_, &slot)| state.slot(slot)),
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
            if !state.index.is_empty() {
                let rows: Vec<Vec<Cell>> =
                    state.all_rows().into_iter().map(<[Cell]>::to_vec).collect();
                state.index.clear();
                state.cells.clear();
                state.free.clear();
                finals.push((state.table, Final::Rows(rows)));
            }
        }
        FinalRows(finals)
    }

    /// A rebuild's last write: every row left, into tables that are still empty.
    pub async fn write_all(mut self, tx: &mut Tx, suffix: &str) -> Result<(), ProjectionError> {
        self.take_final().write(tx, suffix).await?;
        for state in &self.tables {
            insert_rows(tx, suffix, state.table, &state.all_rows(), &self.arena).await?;
        }
        Ok(())
    }
}

/// Texts up to this many bytes are held inline in their cell.
const INLINE: usize = 24;

/// One table's final rows: kept as rows, or already COPY text.
enum Final {
    Rows(Vec<Vec<Cell>>),
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
                Final::Rows(rows) => {
                    let rows: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
                    insert_rows(tx, suffix, table, &rows, "").await?
                }
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

/// Appends `s` escaped for COPY's text format.
fn copy_escaped(s: &str, out: &mut String) {
    // Copies the runs between characters COPY needs escaped whole (most
    // values have none), instead of pushing one character at a time.
    let mut rest = s;
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

/// One value in PostgreSQL's COPY text format (a kept text read from `arena`).
fn copy_text(cell: &Cell, arena: &str, out: &mut String) {
    match cell {
        Cell::Null => out.push_str("\\N"),
        Cell::Text(s) => copy_escaped(s, out),
        Cell::Kept(span) => copy_escaped(span.get(arena).unwrap_or_default(), out),
        // Digits, hex, hyphens and a time: nothing COPY reads specially.
        other => other.push_to(out),
    }
}

/// One row in COPY's text format, with its line end.
fn copy_row(row: &[Cell], arena: &str, out: &mut String) {
    for (i, cell) in row.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        copy_text(cell, arena, out);
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
    rows: &[&[Cell]],
    arena: &str,
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
            copy_row(row, arena, &mut data);
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
        execute_cells(tx, &sql, chunk.iter().flat_map(|row| row.iter())).await?;
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
            copy_text(&cell, "", &mut out);
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
        let left: Vec<Vec<Cell>> = rows.tables[0].index.keys().map(|k| k.to_vec()).collect();
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
    fn texts_read_back_whether_kept_inline_or_in_the_arena() {
        let long = "Ann Lee-Example <ann.lee@a-long-company-name.example>";
        for mut rows in [Rows::new(Mode::Complete, &[]), Rows::for_rebuild(&[], true)] {
            for s in [
                "ann",
                "Ann Lee",
                "ÅSA ÖBERG",
                "İstanbul",
                "ΟΔΟΣ",
                long,
                "MiXeD CaSe AdDrEsS@ExAmPlE.CoM",
            ] {
                let lower = rows.lowercase(s);
                assert_eq!(
                    text_in(&lower, &rows.arena),
                    Some(s.to_lowercase().as_str())
                );
                let text = rows.text(s);
                assert_eq!(text_in(&text, &rows.arena), Some(s));
                let composed = rows.compose(|out| out.push_str(s));
                assert_eq!(text_in(&composed, &rows.arena), Some(s));
            }
            assert_eq!(
                matches!(rows.text(long), Cell::Kept(_)),
                rows.copy_final,
                "long texts go to the arena only in a rebuild on PostgreSQL"
            );
        }
    }

    #[test]
    fn a_key_cell_kept_in_the_arena_is_refused() {
        let mut rows = Rows::for_rebuild(&[&PAIRS], true);
        let long = rows.text("a key far longer than twenty-four bytes");
        assert!(rows.put(&PAIRS, [long, "b".into(), "v".into()]).is_err());
    }

    #[test]
    fn a_copied_row_keeps_the_original_and_a_removed_slot_is_reused() {
        let mut rows = Rows::new(Mode::Complete, &[&PAIRS]);
        rows.put(&PAIRS, [Cell::from("x"), "1".into(), "v".into()])
            .expect("put");
        let copied = rows
            .copy_under(&PAIRS, &["x".into(), "1".into()], |row| row[1] = "2".into())
            .expect("copy");
        assert!(copied);
        assert_eq!(
            rows.get(&PAIRS, &["x".into(), "1".into()])
                .expect("get")
                .map(|r| r[2].clone()),
            Some("v".into())
        );
        assert_eq!(
            rows.get(&PAIRS, &["x".into(), "2".into()])
                .expect("get")
                .map(|r| r[2].clone()),
            Some("v".into())
        );
        let slots = rows.tables[0].cells.len();
        rows.remove(&PAIRS, &["x".into(), "1".into()])
            .expect("remove");
        rows.put(&PAIRS, [Cell::from("y"), "1".into(), "w".into()])
            .expect("put");
        assert_eq!(
            rows.tables[0].cells.len(),
            slots,
            "the freed slot was reused"
        );
        assert!(!rows
            .copy_under(&PAIRS, &["z".into(), "1".into()], |_| {})
            .expect("nothing to copy"));
    }

    #[test]
    fn placeholders_count_on_across_rows() {
        assert_eq!(values_list(2, 2), "VALUES ($1, $2), ($3, $4)");
    }
}
