//! A real SMTP server on loopback for tests: speaks the protocol over TCP
//! (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps what it receives, can refuse
//! recipients with 550 or defer chosen ones with 451, and can be stopped and
//! started again on the same port.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// MAIL FROM.
    pub from: String,
    /// RCPT TO, in order.
    pub to: Vec<String>,
    /// The DATA section, dot-unstuffed.
    pub data: String,
}

impl Received {
    /// The value of header `name` (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with(' ') || line.starts_with('\t') {
                    v.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case(name) {
                    value = Some(v.trim().to_owned());
                }
            }
        }
        value
    }
}

/// A running (or stopped) SMTP sink.
pub struct SmtpSink {
    /// Its port on 127.0.0.1.
    pub port: u16,
    messages: Arc<Mutex<Vec<Received>>>,
    policy: Arc<Policy>,
    task: Option<JoinHandle<()>>,
}

/// How the sink answers recipients.
#[derive(Default)]
struct Policy {
    refuse: AtomicBool,
    defer: Mutex<Vec<String>>,
    /// Hold each message's final answer until released.
    hold: AtomicBool,
    /// Messages waiting for their answer now, and the most at once.
    held: std::sync::atomic::AtomicUsize,
    most_held: std::sync::atomic::AtomicUsize,
}

impl SmtpSink {
    /// Starts on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let mut sink = Self {
            port,
            messages: Arc::default(),
            policy: Arc::default(),
            task: None,
        };
        sink.serve(listener);
        Ok(sink)
    }

    /// `smtp://127.0.0.1:<port>` for `SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Everything received so far.
    pub fn messages(&self) -> Vec<Received> {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Answer RCPT with 550 from now on (or stop doing so).
    pub fn refuse_recipients(&self, refuse: bool) {
        self.policy.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Answer RCPT with 451 (try again later) for this address from now on.
    pub fn defer_recipient(&self, address: &str) {
        self.policy
            .defer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(address.to_ascii_lowercase());
    }

    /// Keep each message waiting for the server's answer (after its data) until
    /// `hold_messages(false)`: shows how many a client sends at once.
    pub fn hold_messages(&self, hold: bool) {
        self.policy.hold.store(hold, Ordering::SeqCst);
    }

    /// The most messages that waited for their answer at the same time.
    pub fn most_held_at_once(&self) -> usize {
        self.policy.most_held.load(Ordering::SeqCst)
    }

    /// Stops listening and drops open connections: the server is down.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await?;
        self.serve(listener);
        Ok(())
    }

    fn serve(&mut self, listener: TcpListener) {
        let (messages, policy) = (self.messages.clone(), self.policy.clone());
        self.task = Some(tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                let (messages, policy) = (messages.clone(), policy.clone());
                sessions.spawn(async move {
                    let _ = session(socket, messages, policy).await;
                });
            }
        }));
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn session(
    socket: tokio::net::TcpStream,
    messages: Arc<Mutex<Vec<Received>>>,
    policy: Arc<Policy>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 roster-test-sink ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            write
                .write_all(b"250-roster-test-sink\r\n250 8BITMIME\r\n")
                .await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().to_owned();
            to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            let recipient = command[8..].trim().to_ascii_lowercase();
            let deferred = policy
                .defer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .any(|d| recipient.contains(d.as_str()));
            if policy.refuse.load(Ordering::SeqCst) {
                write
                    .write_all(b"550 5.1.1 mailbox unavailable\r\n")
                    .await?;
            } else if deferred {
                write
                    .write_all(b"451 4.2.0 mailbox busy, try again later\r\n")
                    .await?;
            } else {
                to.push(command[8..].trim().to_owned());
                write.write_all(b"250 OK\r\n").await?;
            }
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            if policy.hold.load(Ordering::SeqCst) {
                let now = policy.held.fetch_add(1, Ordering::SeqCst) + 1;
                policy.most_held.fetch_max(now, Ordering::SeqCst);
                while policy.hold.load(Ordering::SeqCst) {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                policy.held.fetch_sub(1, Ordering::SeqCst);
            }
            messages
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Received {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
            write.write_all(b"250 OK queued\r\n").await?;
        } else if upper == "RSET" || upper == "NOOP" {
            write.write_all(b"250 OK\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"502 not implemented\r\n").await?;
        }
    }
}
