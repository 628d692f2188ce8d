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

use crate::projection::{ProjectedEvent, Projection, ProjectionError};
use roster_storage::db::Tx;

/// One value of a row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cell {
    /// TEXT.
    Text(String),
    /// BIGINT.
    Int(i64),
    /// NULL (a TEXT column).
    Null,
}

impl Cell {
    /// The text, when the cell holds some.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<i64> for Cell {
    fn from(i: i64) -> Self {
        Cell::Int(i)
    }
}

impl From<Option<String>> for Cell {
    fn from(s: Option<String>) -> Self {
        s.map_or(Cell::Null, Cell::Text)
    }
}

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
    rows: BTreeMap<Vec<Cell>, Vec<Cell>>,
    /// Groups the record pass noted (and the load fetched).
    wanted: BTreeSet<Vec<Cell>>,
    /// Groups changed since the last write.
    dirty: BTreeSet<Vec<Cell>>,
}

/// A working set: the rows of some tables that a fold reads and changes.
pub struct Rows {
    mode: Mode,
    tables: Vec<State>,
}

/// Most bound parameters per statement (SQLite allows 32,766; PostgreSQL 65,535).
const MAX_PARAMS: usize = 30_000;

impl Rows {
    /// An empty working set over `tables`.
    pub fn new(mode: Mode, tables: &[&'static Table]) -> Self {
        Self {
            mode,
            tables: tables
                .iter()
                .map(|table| State {
                    table,
                    rows: BTreeMap::new(),
                    wanted: BTreeSet::new(),
                    dirty: BTreeSet::new(),
                })
                .collect(),
        }
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
                state.wanted.insert(group.to_vec());
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
            state.dirty.insert(group.to_vec());
        }
        Ok(state)
    }

    /// The row under `key`, if there is one.
    pub fn get(
        &mut self,
        table: &Table,
        key: &[Cell],
    ) -> Result<Option<&Vec<Cell>>, ProjectionError> {
        let state = self.use_group(table, &key[..table.group], false)?;
        Ok(state.rows.get(key))
    }

    /// The row under `key` to change in place, if there is one.
    pub fn get_mut(
        &mut self,
        table: &Table,
        key: &[Cell],
    ) -> Result<Option<&mut Vec<Cell>>, ProjectionError> {
        let state = self.use_group(table, &key[..table.group], true)?;
        Ok(state.rows.get_mut(key))
    }

    /// Inserts or replaces a whole row (its key is its first columns).
    pub fn put(&mut self, table: &Table, row: Vec<Cell>) -> Result<(), ProjectionError> {
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
        if mode != Mode::Record {
            state.rows.insert(row[..table.key].to_vec(), row);
        }
        Ok(())
    }

    /// Removes the row under `key`, if there is one.
    pub fn remove(&mut self, table: &Table, key: &[Cell]) -> Result<(), ProjectionError> {
        let state = self.use_group(table, &key[..table.group], true)?;
        state.rows.remove(key);
        Ok(())
    }

    /// Removes every row of `group`.
    pub fn remove_group(&mut self, table: &Table, group: &[Cell]) -> Result<(), ProjectionError> {
        let state = self.use_group(table, group, true)?;
        let keys: Vec<Vec<Cell>> = state
            .rows
            .range(group.to_vec()..)
            .take_while(|(k, _)| k.starts_with(group))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            state.rows.remove(&key);
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
            let groups: Vec<&Vec<Cell>> = state.wanted.iter().collect();
            let head = format!(
                "SELECT {} FROM {}{suffix} WHERE ({}) IN",
                table.column_list(),
                table.name,
                table.group_list()
            );
            for row in select_groups(tx, &head, table, &groups).await? {
                state.rows.insert(row[..table.key].to_vec(), row);
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
                let groups: Vec<&Vec<Cell>> = dirty.iter().collect();
                let head = format!(
                    "DELETE FROM {}{suffix} WHERE ({}) IN",
                    table.name,
                    table.group_list()
                );
                delete_groups(tx, &head, table, &groups).await?;
            }
            let mut rows: Vec<&Vec<Cell>> = Vec::new();
            for group in &dirty {
                rows.extend(
                    state
                        .rows
                        .range(group.clone()..)
                        .take_while(|(k, _)| k.starts_with(group))
                        .map(|(_, row)| row),
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
        FinalRows(
            self.tables
                .iter_mut()
                .filter(|state| state.table.append_only && !state.rows.is_empty())
                .map(|state| {
                    let table: &'static Table = state.table;
                    (
                        table,
                        std::mem::take(&mut state.rows).into_values().collect(),
                    )
                })
                .collect(),
        )
    }

    /// A rebuild's last write: every row left, into tables that are still empty.
    pub async fn write_all(mut self, tx: &mut Tx, suffix: &str) -> Result<(), ProjectionError> {
        for state in &mut self.tables {
            let rows: Vec<Vec<Cell>> = std::mem::take(&mut state.rows).into_values().collect();
            insert_rows(tx, suffix, state.table, &rows).await?;
        }
        Ok(())
    }
}

/// Rows of append-only tables taken from a working set (see [`Rows::take_final`]):
/// owned, so a rebuild writes them on a task of its own.
pub struct FinalRows(Vec<(&'static Table, Vec<Vec<Cell>>)>);

impl FinalRows {
    /// Writes them into the tables with `suffix` (COPY on PostgreSQL).
    pub async fn write(self, tx: &mut Tx, suffix: &str) -> Result<(), ProjectionError> {
        for (table, rows) in self.0 {
            insert_rows(tx, suffix, table, &rows).await?;
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
            };
        }
        q
    }};
}

/// Decodes a row's columns as the table declares them.
macro_rules! decode_cells {
    ($row:expr, $columns:expr) => {{
        use sqlx::Row;
        let mut cells = Vec::with_capacity($columns.len());
        for (i, column) in $columns.iter().enumerate() {
            cells.push(match column.kind {
                Kind::Text => Cell::Text($row.try_get::<String, _>(i)?),
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
) -> Result<Vec<Vec<Cell>>, ProjectionError> {
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

fn column_array(rows: &[&Vec<Cell>], i: usize, column: &Column) -> Result<Array, ProjectionError> {
    let wrong = |cell: &Cell| {
        ProjectionError::Inconsistent(format!(
            "column {} holds {cell:?}, which is not a {:?}",
            column.name, column.kind
        ))
    };
    let cell = |row: &&Vec<Cell>| row.get(i).cloned().unwrap_or(Cell::Null);
    Ok(match column.kind {
        Kind::Text => Array::Text(
            rows.iter()
                .map(|r| match cell(r) {
                    Cell::Text(s) => Ok(s),
                    other => Err(wrong(&other)),
                })
                .collect::<Result<_, _>>()?,
        ),
        Kind::Int => Array::Int(
            rows.iter()
                .map(|r| match cell(r) {
                    Cell::Int(v) => Ok(v),
                    other => Err(wrong(&other)),
                })
                .collect::<Result<_, _>>()?,
        ),
        Kind::NullableText => Array::NullableText(
            rows.iter()
                .map(|r| match cell(r) {
                    Cell::Text(s) => Ok(Some(s)),
                    Cell::Null => Ok(None),
                    other => Err(wrong(&other)),
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// `query` with the first `width` columns of `rows` bound as arrays.
fn bind_arrays<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    columns: &[Column],
    rows: &[&Vec<Cell>],
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
    groups: &[&Vec<Cell>],
) -> Result<Vec<Vec<Cell>>, ProjectionError> {
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
    groups: &[&Vec<Cell>],
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
    rows: &[&Vec<Cell>],
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
        Cell::Int(i) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{i}");
        }
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
    }
}

/// Writes `rows` into `<table><suffix>`: one COPY on PostgreSQL, multi-row INSERTs
/// (as large as parameter limits allow) on SQLite.
pub async fn insert_rows(
    tx: &mut Tx,
    suffix: &str,
    table: &Table,
    rows: &[Vec<Cell>],
) -> Result<(), ProjectionError> {
    if rows.is_empty() {
        return Ok(());
    }
    if let Tx::Pg(t) = tx {
        let mut data = String::with_capacity(rows.len() * 128);
        for row in rows {
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    data.push('\t');
                }
                copy_text(cell, &mut data);
            }
            data.push('\n');
        }
        let statement = format!(
            "COPY {}{suffix} ({}) FROM STDIN",
            table.name,
            table.column_list()
        );
        let mut copy = t.copy_in_raw(&statement).await?;
        copy.send(data.into_bytes()).await?;
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
        let left: Vec<_> = rows.tables[0].rows.keys().cloned().collect();
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
