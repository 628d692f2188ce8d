//! Hundreds of simultaneous sign-ins (unknown emails, distinct addresses) must not
//! exhaust memory or the database pool: password hashing is bounded, the excess is
//! shed with a problem and `Retry-After`, nothing answers 500. Alone in its test
//! binary, so the process's peak memory is this test's.

use std::net::{IpAddr, Ipv4Addr};

use roster_tests::http::TestServer;
use roster_tests::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// Peak resident memory of this process so far, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_hundred_simultaneous_sign_ins_are_bounded_and_shed() {
    let s = TestServer::start_on(Backend::Sqlite).await.expect("server");
    let server: std::net::SocketAddr = s
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let mut tasks = Vec::new();
    for i in 0..400u32 {
        let address = IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            1 + (i / 200) as u8,
            1 + (i % 200) as u8,
        ));
        tasks.push(tokio::spawn(async move {
            let body = format!(
                r#"{{"email":"nobody{i}@hostile.io","password":"guess guess guess"}}"#
            );
            let request = format!(
                "POST /api/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let socket = TcpSocket::new_v4().expect("socket");
            socket.bind((address, 0).into()).expect("bind");
            let mut stream = socket.connect(server).await.expect("connect");
            stream.write_all(request.as_bytes()).await.expect("send");
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.expect("answer");
            let status: u16 = answer
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .expect("a status line");
            (status, answer.to_ascii_lowercase().contains("\r\nretry-after:"))
        }));
    }
    let mut counts = std::collections::BTreeMap::new();
    for t in tasks {
        let (status, retry_after) = t.await.expect("task");
        if matches!(status, 429 | 503) {
            assert!(retry_after, "{status} says when to retry");
        }
        *counts.entry(status).or_insert(0u32) += 1;
    }
    assert!(
        counts.keys().all(|s| matches!(s, 401 | 429 | 503)),
        "only refusals and shed load: {counts:?}"
    );
    assert!(counts.get(&401).is_some_and(|n| *n > 0), "{counts:?}");
    let peak_mib = peak_rss_kib() / 1024;
    eprintln!("peak resident memory {peak_mib} MiB; answers {counts:?}");
    assert!(peak_mib < 200, "peak memory {peak_mib} MiB ({counts:?})");
}
