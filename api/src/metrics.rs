//! Request counters and a latency histogram, exported on `/metrics` beside the
//! log and projection gauges. Lock-free: one atomic per series.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (milliseconds) of the latency histogram's buckets.
pub const BUCKETS_MS: [u64; 9] = [5, 10, 25, 50, 100, 250, 500, 1000, 5000];

/// HTTP request metrics.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; BUCKETS_MS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl RequestMetrics {
    /// Records one answered request.
    pub fn record(&self, status: u16, took: Duration) {
        let class = usize::from((status / 100).clamp(1, 5)) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        for (i, bound) in BUCKETS_MS.iter().enumerate() {
            if ms <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The series in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP roster_http_requests_total Requests answered, by status class.\n");
        out.push_str("# TYPE roster_http_requests_total counter\n");
        for (i, n) in self.by_class.iter().enumerate() {
            out.push_str(&format!(
                "roster_http_requests_total{{class=\"{}xx\"}} {}\n",
                i + 1,
                n.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP roster_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE roster_http_request_duration_seconds histogram\n");
        for (i, bound) in BUCKETS_MS.iter().enumerate() {
            out.push_str(&format!(
                "roster_http_request_duration_seconds_bucket{{le=\"{}\"}} {}\n",
                *bound as f64 / 1000.0,
                self.buckets[i].load(Ordering::Relaxed)
            ));
        }
        let count = self.count.load(Ordering::Relaxed);
        out.push_str(&format!(
            "roster_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n"
        ));
        out.push_str(&format!(
            "roster_http_request_duration_seconds_sum {}\n",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        ));
        out.push_str(&format!(
            "roster_http_request_duration_seconds_count {count}\n"
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_land_in_their_class_and_cumulative_buckets() {
        let m = RequestMetrics::default();
        m.record(201, Duration::from_millis(3));
        m.record(404, Duration::from_millis(40));
        let text = m.render();
        assert!(text.contains("roster_http_requests_total{class=\"2xx\"} 1"));
        assert!(text.contains("roster_http_requests_total{class=\"4xx\"} 1"));
        assert!(text.contains("roster_http_request_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("roster_http_request_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("roster_http_request_duration_seconds_count 2"));
    }
}
