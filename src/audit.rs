//! The auditor's and operator's commands over the log: `replay`, `history`, `verify`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use roster_commands::tokens::TokenKey;
use roster_domain::OrgId;
use roster_eventstore::seal::{self, SealedHead};
use roster_eventstore::{integrity, EventStore};
use roster_projections::queries::{self, HistoryFilter, HistoryRow};
use roster_projections::rebuild::rebuild_many;
use roster_storage::Db;

use crate::config::{HistoryArgs, HistoryFormat, ReplayArgs};

/// Shows progress on a terminal only; pipes and CI logs get the summary alone.
struct Progress {
    enabled: bool,
}

impl Progress {
    fn new() -> Self {
        Self {
            enabled: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, what: &str, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        let width = 30usize;
        let filled = (done.min(total) * width as u64)
            .checked_div(total)
            .map_or(width, |f| f as usize);
        eprint!(
            "\r{what:<12} [{}{}] {done}/{total}",
            "#".repeat(filled),
            " ".repeat(width - filled)
        );
        let _ = std::io::stderr().flush();
    }

    fn finish(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}

async fn total_events(store: &dyn EventStore) -> u64 {
    // Positions are sparse, so the total is counted by paging through the whole
    // log once (10,000 events a read) before the replay starts.
    let mut n = 0u64;
    let mut after = roster_eventstore::Position::START;
    loop {
        match store.read_all(after, 10_000).await {
            Ok(batch) if !batch.is_empty() => {
                n += batch.len() as u64;
                after = batch[batch.len() - 1].global_position;
            }
            _ => return n,
        }
    }
}

/// `roster replay`: rebuilds (or verifies) each projection; returns false when
/// `--verify` found differences.
pub async fn replay(
    db: &Db,
    store: Arc<dyn EventStore>,
    args: &ReplayArgs,
) -> Result<bool, String> {
    let projections = match &args.projection {
        Some(name) => vec![roster_projections::by_name(name).ok_or_else(|| {
            let known: Vec<&str> = roster_projections::all().iter().map(|p| p.name()).collect();
            format!(
                "--projection: no projection named {name:?}; known: {}",
                known.join(", ")
            )
        })?],
        None => roster_projections::all(),
    };
    let progress = Progress::new();
    let total = if progress.enabled {
        total_events(store.as_ref()).await
    } else {
        0
    };
    let mut clean = true;
    let refs: Vec<&dyn roster_projections::Projection> =
        projections.iter().map(|p| p.as_ref()).collect();
    let reports = rebuild_many(db, store.as_ref(), &refs, args.verify, |done, _| {
        progress.show("replay", done, total.max(done));
    })
    .await
    .map_err(|e| format!("replay failed: {e}"))?;
    progress.finish();
    for (p, report) in projections.iter().zip(reports) {
        let rate = if report.seconds > 0.0 {
            report.events as f64 / report.seconds
        } else {
            0.0
        };
        let outcome = match (args.verify, report.differences.is_empty()) {
            (true, true) => "identical to the live tables".to_owned(),
            (true, false) => {
                clean = false;
                for d in &report.differences {
                    for row in &d.only_live {
                        println!("{}: {}: only in the live table: {row}", p.name(), d.table);
                    }
                    for row in &d.only_rebuilt {
                        println!(
                            "{}: {}: only in the rebuilt table: {row}",
                            p.name(),
                            d.table
                        );
                    }
                }
                format!("{} table(s) differ", report.differences.len())
            }
            (false, _) => "swapped in".to_owned(),
        };
        println!(
            "{}: {} events in {:.2}s ({:.0} events/s), position {}; {outcome}",
            p.name(),
            report.events,
            report.seconds,
            rate,
            report.position
        );
    }
    Ok(clean)
}

/// One CSV cell. A cell that a spreadsheet would read as a formula (it starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return; summaries quote names
/// people chose) gets a leading `'`, so it is shown as text and never run.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv_line(r: &HistoryRow) -> String {
    [
        r.position.to_string(),
        r.recorded_at.clone(),
        r.event_type.clone(),
        r.actor_id.clone(),
        r.subject.clone(),
        r.source.clone(),
        r.event_id.clone(),
        r.summary.clone(),
    ]
    .iter()
    .map(|f| csv_field(f))
    .collect::<Vec<_>>()
    .join(",")
}

/// `roster history`: writes the organization's history to `out`, oldest first.
pub async fn history(
    db: &Db,
    store: Arc<dyn EventStore>,
    args: &HistoryArgs,
    out: &mut impl Write,
) -> Result<(), String> {
    let org: OrgId = args
        .org
        .trim()
        .parse()
        .map_err(|_| format!("--org: {:?} is not an organization id (a UUID)", args.org))?;
    let filter = HistoryFilter {
        since: args.since,
        until: args.until,
        event_type: args.event_type.clone(),
        actor: args.actor.clone(),
        subject: args.subject.clone(),
    };
    // Bring the history up to the log's end first: the server may not be running.
    if let Some(p) = roster_projections::by_name("history") {
        roster_projections::runner::ensure_installed(db, p.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        while roster_projections::runner::apply_batch(
            db,
            store.as_ref(),
            p.as_ref(),
            "",
            p.name(),
            2_000,
            None,
        )
        .await
        .map_err(|e| e.to_string())?
            > 0
        {}
    }
    let write_err = |e: std::io::Error| format!("cannot write the history: {e}");
    if args.format == HistoryFormat::Csv {
        writeln!(
            out,
            "position,recorded_at,event_type,actor,subject,source,event_id,summary"
        )
        .map_err(write_err)?;
    }
    let mut after = 0i64;
    loop {
        let page = queries::history(db, org, &filter, after, 1_000)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for row in &page {
            let line = match args.format {
                HistoryFormat::Jsonl => serde_json::to_string(row).map_err(|e| e.to_string())?,
                HistoryFormat::Csv => csv_line(row),
            };
            writeln!(out, "{line}").map_err(write_err)?;
        }
    }
    Ok(())
}

/// `roster seal`: checks the log, then writes every stream's head, authenticated
/// with the server secret, to `out` (owner-only).
pub async fn seal(store: Arc<dyn EventStore>, key: &TokenKey, out: &Path) -> Result<(), String> {
    let report = integrity::verify(store.as_ref(), |_| {})
        .await
        .map_err(|e| e.to_string())?;
    if !report.findings.is_empty() {
        return Err(format!(
            "the log does not verify ({} problem(s)); run roster verify, and seal only a clean log",
            report.findings.len()
        ));
    }
    let heads: Vec<SealedHead> = report
        .heads
        .into_iter()
        .map(|(stream_id, (version, hash))| SealedHead {
            stream_id,
            version,
            hash,
        })
        .collect();
    roster_workers::mailer::private::write(out, seal::seal(&heads, key.expose()).as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!(
        "sealed {} streams ({} events) into {}",
        heads.len(),
        report.events,
        out.display()
    );
    Ok(())
}

/// `roster verify`: walks the hash chains, and checks the log against a seal
/// when given one; returns false when tampering was found.
pub async fn verify(
    store: Arc<dyn EventStore>,
    sealed: Option<(&Path, &TokenKey)>,
) -> Result<bool, String> {
    let mut clean = true;
    if let Some((file, key)) = sealed {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let heads =
            seal::open(&text, key.expose()).map_err(|e| format!("{}: {e}", file.display()))?;
        let mismatches = seal::check(store.as_ref(), &heads)
            .await
            .map_err(|e| e.to_string())?;
        for m in &mismatches {
            match m {
                seal::SealMismatch::Rewritten { stream_id, version } => println!(
                    "stream {stream_id}: history up to version {version} was rewritten since it was sealed"
                ),
                seal::SealMismatch::Shortened { stream_id, sealed } => println!(
                    "stream {stream_id}: shorter than the {sealed} events sealed (events removed)"
                ),
            }
        }
        println!(
            "checked {} sealed streams: {}",
            heads.len(),
            if mismatches.is_empty() {
                "all as sealed".to_owned()
            } else {
                format!("{} differ", mismatches.len())
            }
        );
        clean = mismatches.is_empty();
    }
    let progress = Progress::new();
    let report = integrity::verify(store.as_ref(), |n| progress.show("verify", n, n))
        .await
        .map_err(|e| e.to_string())?;
    progress.finish();
    for f in &report.findings {
        let what = match &f.problem {
            integrity::Tampering::Edited => {
                "edited (its content or its predecessor no longer matches its hash)".to_owned()
            }
            integrity::Tampering::Gap { expected_version } => {
                format!("out of sequence: version {expected_version} was expected here (removed or reordered events)")
            }
            integrity::Tampering::Unhashed => "carries no hash".to_owned(),
        };
        println!(
            "event {} ({} v{}, position {}): {what}",
            f.event_id, f.stream_id, f.stream_version, f.position
        );
    }
    println!(
        "checked {} events in {} streams: {}",
        report.events,
        report.streams,
        if report.findings.is_empty() {
            "no tampering found".to_owned()
        } else {
            format!("{} problem(s)", report.findings.len())
        }
    );
    Ok(clean && report.findings.is_empty())
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn cells_a_spreadsheet_would_run_are_text() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-2+3"), "'-2+3");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            csv_field("Invited =x"),
            "Invited =x",
            "only a leading sign counts"
        );
    }
}
