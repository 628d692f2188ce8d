//! One value of a read-model row.
//!
//! Every value but [`Cell::Int`] and [`Cell::Null`] is stored as TEXT, but a fold
//! keeps ids, times and digests as what they are and short texts inline: they
//! become text only when a row reaches a table, written straight into the
//! statement's buffer. So making a row allocates nothing for most of its cells,
//! which is what lets a rebuild fold a million events without a heap allocation
//! per event. A cell compares as the text it is stored as, whatever its kind, so a
//! key a fold makes finds the same row loaded back from a table as TEXT.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use chrono::{DateTime, Datelike, Timelike, Utc};
use compact_str::CompactString;
use uuid::Uuid;

/// One value of a row.
#[derive(Debug, Clone)]
pub enum Cell {
    /// NULL (a TEXT column).
    Null,
    /// BIGINT.
    Int(i64),
    /// A UUID, stored hyphenated in lower case.
    Id(Uuid),
    /// A time, stored as [`time_text`](roster_storage::db::time_text) writes it.
    Time(DateTime<Utc>),
    /// 32 bytes (a token digest), stored as lower-case hex.
    Digest([u8; 32]),
    /// Any other text; up to 24 bytes it is held inline.
    Text(CompactString),
    /// A long text kept in a rebuild's text arena (see
    /// [`Rows::text`](crate::rows::Rows::text)): only the working set that made it
    /// can read it, and it is never part of a key.
    Kept(Span),
}

/// Where a [`Cell::Kept`] text lies in its working set's arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    /// Its first byte.
    pub at: usize,
    /// Its length in bytes.
    pub len: usize,
}

impl Span {
    /// The text in `arena`, if the span lies in it.
    pub fn get(self, arena: &str) -> Option<&str> {
        arena.get(self.at..self.at + self.len)
    }
}

/// The longest text an [`Cell::Id`], [`Cell::Time`] or [`Cell::Digest`] renders to.
const RENDERED: usize = 64;

/// A fixed buffer that `write!` can fill without touching the heap.
struct Stack {
    buf: [u8; RENDERED],
    len: usize,
}

impl fmt::Write for Stack {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `t` as `%Y-%m-%dT%H:%M:%S%.6fZ` (the stored form of every time) without
/// chrono's formatter, which builds a `String` on the way: the digits are put in
/// place (a rebuild writes hundreds of thousands of times).
pub fn write_time(out: &mut impl fmt::Write, t: &DateTime<Utc>) -> fmt::Result {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        // Outside four digits: as chrono pads it (never seen in practice).
        return write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
    }
    let nanos = t.nanosecond();
    // A leap second keeps its extra second in the nanoseconds, as chrono prints it.
    let second = t.second() + nanos / 1_000_000_000;
    let micros = (nanos % 1_000_000_000) / 1_000;
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for i in (at..at + width).rev() {
            text[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year.unsigned_abs());
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, second);
    put(20, 6, micros);
    out.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
}

impl Cell {
    /// A text cell (inline when short).
    pub fn text(s: &str) -> Self {
        Cell::Text(CompactString::new(s))
    }

    /// A text cell for a constant: never copied, whatever its length.
    pub const fn fixed(s: &'static str) -> Self {
        Cell::Text(CompactString::const_new(s))
    }

    /// Calls `f` with the text this cell is stored as (`None` for NULL and integers),
    /// rendering ids, times and digests on the stack.
    pub fn with_text<R>(&self, f: impl FnOnce(Option<&str>) -> R) -> R {
        let mut stack = Stack {
            buf: [0; RENDERED],
            len: 0,
        };
        match self {
            Cell::Null | Cell::Int(_) | Cell::Kept(_) => f(None),
            Cell::Text(s) => f(Some(s.as_str())),
            Cell::Id(id) => f(Some(id.hyphenated().encode_lower(&mut stack.buf))),
            Cell::Digest(bytes) => {
                let rendered = hex::encode_to_slice(bytes, &mut stack.buf)
                    .ok()
                    .and_then(|()| std::str::from_utf8(&stack.buf).ok());
                f(rendered)
            }
            Cell::Time(t) => {
                let rendered = write_time(&mut stack, t)
                    .ok()
                    .and_then(|()| std::str::from_utf8(&stack.buf[..stack.len]).ok());
                f(rendered)
            }
        }
    }

    /// The text this cell is stored as, owned (for binding a parameter).
    pub fn to_text(&self) -> Option<String> {
        self.with_text(|t| t.map(str::to_owned))
    }

    /// The text, when the cell holds text as such (not an id, time or digest).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// Appends the stored text to `out` (nothing for NULL; an integer in digits).
    pub fn push_to(&self, out: &mut String) {
        match self {
            Cell::Null | Cell::Kept(_) => {}
            Cell::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Cell::Text(s) => out.push_str(s),
            Cell::Time(t) => {
                let _ = write_time(out, t);
            }
            other => other.with_text(|t| out.push_str(t.unwrap_or_default())),
        }
    }
}

impl PartialEq for Cell {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Cell {}

impl PartialOrd for Cell {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// NULL first, then integers, then texts by their stored text. Two ids (or two
/// digests) compare by their bytes, which orders them as their hex text would.
impl Ord for Cell {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Cell::Null, Cell::Null) => Ordering::Equal,
            (Cell::Null, _) => Ordering::Less,
            (_, Cell::Null) => Ordering::Greater,
            (Cell::Int(a), Cell::Int(b)) => a.cmp(b),
            (Cell::Int(_), _) => Ordering::Less,
            (_, Cell::Int(_)) => Ordering::Greater,
            (Cell::Id(a), Cell::Id(b)) => a.cmp(b),
            (Cell::Digest(a), Cell::Digest(b)) => a.cmp(b),
            (Cell::Text(a), Cell::Text(b)) => a.as_str().cmp(b.as_str()),
            (Cell::Kept(a), Cell::Kept(b)) => a.cmp(b),
            (a, b) => a.with_text(|a| b.with_text(|b| a.cmp(&b))),
        }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(CompactString::from(s))
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::text(s)
    }
}

impl From<i64> for Cell {
    fn from(i: i64) -> Self {
        Cell::Int(i)
    }
}

impl From<Uuid> for Cell {
    fn from(id: Uuid) -> Self {
        Cell::Id(id)
    }
}

impl From<DateTime<Utc>> for Cell {
    fn from(t: DateTime<Utc>) -> Self {
        Cell::Time(t)
    }
}

impl From<Option<String>> for Cell {
    fn from(s: Option<String>) -> Self {
        s.map_or(Cell::Null, Cell::from)
    }
}

impl From<Option<&str>> for Cell {
    fn from(s: Option<&str>) -> Self {
        s.map_or(Cell::Null, Cell::text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_cell_is_no_larger_than_four_words() {
        assert!(
            std::mem::size_of::<Cell>() <= 40,
            "{}",
            std::mem::size_of::<Cell>()
        );
    }

    #[test]
    fn times_are_written_as_the_stored_form() {
        for t in [
            Utc.with_ymd_and_hms(2026, 12, 2, 9, 29, 10).single(),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).single(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single(),
        ]
        .into_iter()
        .flatten()
        {
            for nanos in [0, 1_000, 123_456_789, 999_999_999] {
                let t = t + chrono::Duration::nanoseconds(nanos);
                let mut mine = String::new();
                Cell::Time(t).push_to(&mut mine);
                assert_eq!(mine, roster_storage::db::time_text(t));
                assert_eq!(Cell::Time(t).to_text(), Some(mine));
            }
        }
    }

    #[test]
    fn every_kind_compares_as_its_stored_text() {
        let id = Uuid::now_v7();
        let later = Uuid::now_v7();
        assert_eq!(Cell::Id(id), Cell::from(id.to_string()));
        assert_eq!(
            Cell::Id(id).cmp(&Cell::from(later.to_string())),
            id.to_string().cmp(&later.to_string())
        );
        assert!(Cell::Id(id) < Cell::Id(later));
        let digest = [0xab; 32];
        assert_eq!(Cell::Digest(digest), Cell::from(hex::encode(digest)));
        let t = Utc::now();
        assert_eq!(Cell::Time(t), Cell::from(roster_storage::db::time_text(t)));
        assert!(Cell::Null < Cell::Int(-1) && Cell::Int(i64::MAX) < Cell::text(""));
        assert_eq!(
            Cell::fixed("a constant longer than twenty-four bytes"),
            Cell::text("a constant longer than twenty-four bytes")
        );
    }

    #[test]
    fn ordering_ids_by_bytes_agrees_with_their_text() {
        let ids: Vec<Uuid> = (0..200u128)
            .map(|i| Uuid::from_u128(i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)))
            .collect();
        for a in &ids {
            for b in ids.iter().take(20) {
                assert_eq!(
                    Cell::Id(*a).cmp(&Cell::Id(*b)),
                    a.to_string().cmp(&b.to_string())
                );
            }
        }
    }
}
