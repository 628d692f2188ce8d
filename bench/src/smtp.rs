//! A minimal SMTP server on loopback that accepts every message and notes when
//! each arrived: what the email case's sends are delivered to.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running sink.
pub struct Sink {
    /// `smtp://127.0.0.1:<port>`.
    pub url: String,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    task: JoinHandle<()>,
}

impl Sink {
    /// Listens on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("smtp://127.0.0.1:{}", listener.local_addr()?.port());
        let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let noted = arrivals.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let noted = noted.clone();
                tokio::spawn(async move {
                    let _ = session(socket, noted).await;
                });
            }
        });
        Ok(Self {
            url,
            arrivals,
            task,
        })
    }

    /// When each accepted message arrived, in order.
    pub fn arrivals(&self) -> Vec<Instant> {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(
    socket: tokio::net::TcpStream,
    arrivals: Arc<Mutex<Vec<Instant>>>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 bench-sink ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.trim_end().to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            write
                .write_all(b"250-bench-sink\r\n250 8BITMIME\r\n")
                .await?;
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
            }
            arrivals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Instant::now());
            write.write_all(b"250 OK queued\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            // MAIL, RCPT, RSET, NOOP: all fine.
            write.write_all(b"250 OK\r\n").await?;
        }
    }
}
