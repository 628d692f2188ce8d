//! The HTTP listener, with the limits a public server needs so that no one
//! client can hold what everyone else needs:
//!
//! * at most `max_connections` open at once (further clients wait in the
//!   kernel's accept queue), and at most `per_client` of them from one client
//!   address (IPv4 address, IPv6 /64; trusted proxies are exempt): a connection
//!   over its client's share is answered `429` and closed at once, so one
//!   client cannot fill the server;
//! * a connection with no request in flight for `header_timeout` is closed,
//!   whatever its protocol: an HTTP/1 client that does not finish its headers,
//!   an HTTP/2 client that sent its preface and then nothing, a kept-alive
//!   connection left idle;
//! * a connection whose answers the client stops reading (a write that makes
//!   no progress for [`ConnectionLimits::stall_timeout`]) is dropped;
//! * HTTP/2 allows [`MAX_STREAMS_PER_CONNECTION`] requests at once and pings
//!   an idle peer; a request's headers may take at most [`MAX_HEADER_BYTES`]
//!   (431 beyond);
//! * shutdown stops accepting, asks every connection to finish, and waits.
//!
//! Request bodies have their own time limit (`roster_api::body`), so a client
//! that sends half a body is answered and its connection goes idle.

use std::collections::HashMap;
use std::future::Future;
use std::io::IoSlice;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use roster_api::client_addr::TrustedProxies;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::Service;

/// The most a request's headers may take: a browser's cookies and an API
/// client's token fit many times over; hyper's own default (about 400 KB per
/// connection) would let a thousand connections pin 400 MB.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Requests one HTTP/2 connection may have in flight (hyper's default is 200):
/// a page needs a handful, and one connection cannot open hundreds of event streams.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 32;

/// Bounds on what clients may hold.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one client address (IPv6: one /64).
    pub per_client: usize,
    /// Time a client has to send a request's headers; also how long a
    /// connection may sit with no request in flight.
    pub header_timeout: Duration,
    /// Peers that carry many clients' connections (reverse proxies): no share applies.
    pub exempt: Arc<TrustedProxies>,
}

impl ConnectionLimits {
    /// How long a write may make no progress (the client reads nothing) before the
    /// connection is dropped: three header timeouts.
    pub fn stall_timeout(&self) -> Duration {
        self.header_timeout.saturating_mul(3)
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open
/// connections finish (the caller bounds how long).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let shares = Arc::new(ClientShares::default());
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS_AT_ONCE));
    let (stopping, stop_seen) = watch::channel(false);
    let builder = protocol_builder(&limits);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let share = if limits.exempt.trusts(peer.ip()) {
            None
        } else {
            match shares.take(peer.ip(), limits.per_client) {
                Some(share) => Some(share),
                None => {
                    // Over its share: told so in a few bytes and closed, costing
                    // the others nothing (a bounded number of refusals at once).
                    tracing::debug!(%peer, "connection refused: the client holds its share");
                    if let Ok(place) = refusals.clone().try_acquire_owned() {
                        tokio::spawn(async move {
                            refuse(stream).await;
                            drop(place);
                        });
                    }
                    continue;
                }
            }
        };
        let connection = Connection {
            stream,
            peer,
            router: router.clone(),
            builder: builder.clone(),
            limits: limits.clone(),
            stopping: stop_seen.clone(),
        };
        tokio::spawn(async move {
            connection.run().await;
            drop(share);
            drop(slot);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    // Every connection gives its slot back when it ends.
    let _ = slots
        .acquire_many(u32::try_from(max).unwrap_or(u32::MAX))
        .await;
    Ok(())
}

/// Refusals being written at once; past it a refused connection is just closed.
const MAX_REFUSALS_AT_ONCE: usize = 64;

/// The answer to a connection over its client's share: an HTTP/1.1 problem
/// document (an HTTP/2 client sees the connection close).
const TOO_MANY_CONNECTIONS: &str = concat!(
    "HTTP/1.1 429 Too Many Requests\r\n",
    "content-type: application/problem+json\r\n",
    "retry-after: 1\r\n",
    "connection: close\r\n",
    "content-length: 195\r\n",
    "\r\n",
    r#"{"type":"https://roster.dev/problems/too-many-connections","title":"Too many connections","status":429,"detail":"this address holds as many connections as one client may; reuse one or close one"}"#
);

/// Writes the refusal (giving up after a second) and closes.
async fn refuse(mut stream: TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(TOO_MANY_CONNECTIONS.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

fn protocol_builder(limits: &ConnectionLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX))
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.header_timeout);
    builder
}

/// How many connections each client address holds.
#[derive(Debug, Default)]
struct ClientShares {
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its client's share; given back when dropped.
struct Share {
    shares: Arc<ClientShares>,
    client: IpAddr,
}

impl ClientShares {
    /// The address a client's connections count under: IPv4 itself (also when
    /// mapped into IPv6), IPv6 its /64, one subscriber's prefix.
    fn client_of(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
            },
            v4 => v4,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for one more connection from `ip`, or `None` past `limit`.
    fn take(self: &Arc<Self>, ip: IpAddr, limit: usize) -> Option<Share> {
        let client = Self::client_of(ip);
        let mut held = self.lock();
        let count = held.entry(client).or_insert(0);
        if *count >= limit.max(1) {
            return None;
        }
        *count += 1;
        Some(Share {
            shares: self.clone(),
            client,
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = self.shares.lock();
        if let Some(count) = held.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.client);
            }
        }
    }
}

/// One accepted connection and what it needs to be served.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    builder: Builder<TokioExecutor>,
    limits: ConnectionLimits,
    stopping: watch::Receiver<bool>,
}

impl Connection {
    async fn run(self) {
        let Self {
            stream,
            peer,
            router,
            builder,
            limits,
            mut stopping,
        } = self;
        // Answers leave as soon as they are written: with Nagle's algorithm a
        // response written in two pieces waits for the client's delayed ACK
        // (40 ms on Linux), which was most of the reads' p99 in `scripts/bench`.
        let _ = stream.set_nodelay(true);
        // A client that connects and sends nothing would hold a slot for free:
        // the protocol is only read once a first byte arrives, so wait for it here.
        let mut first = [0u8; 1];
        if !matches!(
            tokio::time::timeout(limits.header_timeout, stream.peek(&mut first)).await,
            Ok(Ok(n)) if n > 0
        ) {
            return;
        }
        let activity = Arc::new(Activity::new());
        let service = {
            let activity = activity.clone();
            hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let in_flight = InFlight::begin(activity.clone());
                // A Router is always ready; call it directly.
                let answer = router.clone().call(request);
                async move {
                    let response = answer.await?;
                    Ok::<_, std::convert::Infallible>(response.map(|body| Counted {
                        body,
                        _in_flight: in_flight,
                    }))
                }
            })
        };
        let io = TokioIo::new(Watched {
            stream,
            activity: activity.clone(),
        });
        let connection = builder.serve_connection_with_upgrades(io, service);
        tokio::pin!(connection);
        let (idle, stall) = (limits.header_timeout, limits.stall_timeout());
        let mut checks = tokio::time::interval(Duration::from_millis(250).min(idle / 2));
        let mut closing: Option<Instant> = None;
        loop {
            tokio::select! {
                ended = connection.as_mut() => {
                    if let Err(e) = ended {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                changed = stopping.changed(), if closing.is_none() => {
                    if changed.is_err() || *stopping.borrow() {
                        connection.as_mut().graceful_shutdown();
                        closing = Some(Instant::now());
                    }
                }
                _ = checks.tick() => {
                    if activity.stalled_for() > stall {
                        tracing::debug!(%peer, "connection dropped: the client stopped reading");
                        return;
                    }
                    match closing {
                        Some(since) if since.elapsed() > stall => return,
                        Some(_) => {}
                        None if activity.idle_for() > idle => {
                            connection.as_mut().graceful_shutdown();
                            closing = Some(Instant::now());
                        }
                        None => {}
                    }
                }
            }
        }
    }
}

/// What a connection is doing, for its watchdog: requests in flight, since when
/// none, and since when a write has been waiting for the client to read.
struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `start` when the last request ended (or the connection began).
    idle_since: AtomicU64,
    /// Milliseconds after `start` (plus one) when a write first found the client's
    /// window full; 0 while writes progress.
    stalled_since: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            stalled_since: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How long no request has been in flight (zero while one is).
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let since = self.idle_since.load(Ordering::Acquire);
        Duration::from_millis(self.now().saturating_sub(since))
    }

    /// How long a write has been waiting on the client (zero when none is).
    fn stalled_for(&self) -> Duration {
        match self.stalled_since.load(Ordering::Acquire) {
            0 => Duration::ZERO,
            since => Duration::from_millis(self.now().saturating_sub(since - 1)),
        }
    }

    fn wrote<T>(&self, poll: &Poll<T>) {
        if poll.is_pending() {
            let now = self.now() + 1;
            let _ =
                self.stalled_since
                    .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
        } else {
            self.stalled_since.store(0, Ordering::Release);
        }
    }
}

/// A request in flight on its connection, from its headers until its answer's
/// body is sent or dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.idle_since.store(self.0.now(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer's body that keeps its request counted as in flight until it ends
/// (an event stream is in flight for as long as it is open).
struct Counted {
    body: axum::body::Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, noting when writes wait on a client that does not read.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.activity.wrote(&poll);
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.activity.wrote(&poll);
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_its_share_and_gets_it_back() {
        let shares = Arc::new(ClientShares::default());
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let held: Vec<_> = (0..3).filter_map(|_| shares.take(a, 3)).collect();
        assert_eq!(held.len(), 3);
        assert!(shares.take(a, 3).is_none(), "a fourth is over the share");
        assert!(
            shares.take("192.0.2.2".parse().expect("ip"), 3).is_some(),
            "another client has its own share"
        );
        drop(held);
        assert!(shares.take(a, 3).is_some(), "given back when closed");
    }

    #[test]
    fn the_refusal_is_a_whole_problem_document() {
        let (head, body) = TOO_MANY_CONNECTIONS
            .split_once("\r\n\r\n")
            .expect("head and body");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let problem: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(problem["status"], 429);
    }

    #[test]
    fn an_ipv6_subscriber_counts_as_one_client() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        assert_eq!(ClientShares::client_of(a), ClientShares::client_of(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(
            ClientShares::client_of(mapped),
            "192.0.2.7".parse::<IpAddr>().expect("ip")
        );
    }
}
