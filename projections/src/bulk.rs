//! Fast rebuilds: a projection may also fold events in memory and hand over its
//! final rows, which are then written in bulk — one COPY per table on PostgreSQL,
//! multi-row INSERTs on SQLite — instead of one statement per event. The live path stays statement-per-event
//! (small, transactional batches); `replay --verify` compares the two, so the two
//! implementations of one projection cannot drift apart unnoticed.

use crate::projection::{ProjectedEvent, ProjectionError};
use roster_storage::db::Tx;

/// One value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// TEXT.
    Text(String),
    /// BIGINT.
    Int(i64),
    /// NULL (a TEXT column).
    Null,
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

/// Rows for one table, in its column order.
#[derive(Debug, Clone)]
pub struct TableRows {
    /// Base table name (without suffix).
    pub table: &'static str,
    /// Column names.
    pub columns: &'static [&'static str],
    /// The rows.
    pub rows: Vec<Vec<Cell>>,
}

/// A projection's in-memory twin, used only to rebuild.
pub trait MemoryFold: Send {
    /// Applies one event, exactly as the SQL path would; an event the SQL path
    /// would fail on fails here too, so a rebuild never drops what it cannot write.
    fn apply(&mut self, event: &ProjectedEvent) -> Result<(), crate::ProjectionError>;
    /// Rows that are final already (append-only tables) and can be written now,
    /// keeping memory flat on long logs.
    fn drain_final(&mut self) -> Vec<TableRows> {
        Vec::new()
    }
    /// Every remaining row, at the end of the log.
    fn finish(self: Box<Self>) -> Vec<TableRows>;
}

/// Most bound parameters per statement (SQLite allows 32,766; PostgreSQL 65,535).
const MAX_PARAMS: usize = 30_000;

/// One value in PostgreSQL's COPY text format.
fn copy_text(cell: &Cell, out: &mut String) {
    match cell {
        Cell::Null => out.push_str("\\N"),
        Cell::Int(i) => out.push_str(&i.to_string()),
        Cell::Text(s) => {
            for ch in s.chars() {
                match ch {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
    }
}

/// Writes `rows` into `<table><suffix>`: one COPY on PostgreSQL, multi-row INSERTs
/// (as large as parameter limits allow) on SQLite.
pub async fn insert_rows(
    tx: &mut Tx,
    suffix: &str,
    rows: &TableRows,
) -> Result<(), ProjectionError> {
    if rows.rows.is_empty() {
        return Ok(());
    }
    if let Tx::Pg(t) = tx {
        let mut data = String::with_capacity(rows.rows.len() * 128);
        for row in &rows.rows {
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
            rows.table,
            rows.columns.join(", ")
        );
        let mut copy = t.copy_in_raw(&statement).await?;
        copy.send(data.into_bytes()).await?;
        copy.finish().await?;
        return Ok(());
    }
    let width = rows.columns.len().max(1);
    let per_statement = (MAX_PARAMS / width).max(1);
    for chunk in rows.rows.chunks(per_statement) {
        let mut sql = format!(
            "INSERT INTO {}{suffix} ({}) VALUES ",
            rows.table,
            rows.columns.join(", ")
        );
        let mut n = 0;
        for (r, _) in chunk.iter().enumerate() {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..width {
                if c > 0 {
                    sql.push_str(", ");
                }
                n += 1;
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        macro_rules! bind_all {
            ($q:expr) => {{
                let mut q = $q;
                for row in chunk {
                    for cell in row {
                        q = match cell {
                            Cell::Text(s) => q.bind(s.as_str()),
                            Cell::Int(i) => q.bind(*i),
                            Cell::Null => q.bind(None::<String>),
                        };
                    }
                }
                q
            }};
        }
        match tx {
            Tx::Pg(t) => {
                bind_all!(sqlx::query(&sql)).execute(&mut **t).await?;
            }
            Tx::Sqlite(t) => {
                bind_all!(sqlx::query(&sql)).execute(&mut **t).await?;
            }
        }
    }
    Ok(())
}
