//! Where the CPU goes during a load: this process, the server, and PostgreSQL's
//! processes, read from /proc (Linux) before and after.

/// CPU seconds used so far by each party.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    /// The bench runner (load generator and direct queries).
    pub bench: f64,
    /// The Roster server.
    pub server: f64,
    /// Every `postgres` process.
    pub postgres: f64,
}

impl CpuTimes {
    /// Reads the current totals; `server` is the server's pid.
    pub fn now(server: Option<u32>) -> Self {
        let ticks = 100.0; // USER_HZ on Linux
        let mut postgres = 0.0;
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                else {
                    continue;
                };
                if let Some((comm, cpu)) = stat(pid) {
                    if comm == "postgres" {
                        postgres += cpu;
                    }
                }
            }
        }
        Self {
            bench: stat("self").map_or(0.0, |(_, c)| c) / ticks,
            server: server
                .and_then(|p| stat(&p.to_string()))
                .map_or(0.0, |(_, c)| c)
                / ticks,
            postgres: postgres / ticks,
        }
    }

    /// CPU milliseconds per operation between `self` and `later`.
    pub fn per_op_ms(&self, later: &CpuTimes, ops: usize) -> serde_json::Value {
        let per = |a: f64, b: f64| (b - a) * 1e3 / ops.max(1) as f64;
        serde_json::json!({
            "server_ms": per(self.server, later.server),
            "postgres_ms": per(self.postgres, later.postgres),
            "bench_client_ms": per(self.bench, later.bench),
        })
    }
}

/// (command name, utime + stime in ticks) of a process.
fn stat(pid: &str) -> Option<(String, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 2..)?.split_whitespace().collect();
    // After the name: state is field 3, utime 14 and stime 15 (1-based overall).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}
