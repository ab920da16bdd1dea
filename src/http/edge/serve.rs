//! The accept loop (HTTP/1.1, as `axum::serve` spoke): a cap on open connections, a
//! deadline for request heads (which also ends idle keep-alive connections), and the drain
//! on shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::{Service, ServiceExt};

use crate::config::ServerSettings;

/// File descriptors kept free beside the connections (database pool, Redis, files, logs).
const FD_RESERVE: u64 = 128;

/// How one listener treats its connections.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// A request head must be complete this long after the server starts waiting for it
    /// (connection opened, or the previous response sent): slow or unfinished heads and idle
    /// keep-alive connections are closed after it.
    pub header_timeout: Duration,
    /// Keep connections open between requests.
    pub keep_alive: bool,
    /// Open connections at most; at the cap the listener stops accepting until one closes.
    pub max_connections: usize,
}

impl ConnLimits {
    /// The limits of `[server]`, the cap lowered (with a warning) to what the process's file
    /// descriptor limit allows.
    pub fn of(server: &ServerSettings) -> ConnLimits {
        let mut max = server.max_connections;
        if let Some(fds) = open_files_limit() {
            let fit = fds.saturating_sub(FD_RESERVE).max(1);
            if (max as u64) > fit {
                tracing::warn!(
                    max_connections = max,
                    open_files_limit = fds,
                    using = fit,
                    "server.max_connections is above what the open-files limit allows; lowered"
                );
                max = usize::try_from(fit).unwrap_or(max);
            }
        }
        ConnLimits {
            header_timeout: server.header_timeout,
            keep_alive: server.keep_alive,
            max_connections: max.max(1),
        }
    }
}

/// The soft `RLIMIT_NOFILE` of this process (Linux; elsewhere unknown).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Set once shutdown begins: `/readyz` answers 503 and responses carry `Connection: close`.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// Shutdown has begun.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Begins shutdown.
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Serves `listener` with one service per connection made by `make` (given the peer) until
/// `stop` resolves; then stops accepting, asks every connection to close after the request in
/// flight, and waits up to `grace` for them. Returns false when the grace ran out.
pub async fn serve<M, S>(
    listener: TcpListener,
    mut make: M,
    limits: ConnLimits,
    draining: Draining,
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> bool
where
    M: FnMut(SocketAddr) -> S,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    // hyper starts the head timer when it starts waiting for a head: on a new connection and
    // after each response, so an idle keep-alive connection is closed by it too.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(limits.keep_alive);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut stop = pin!(stop);
    loop {
        while connections.try_join_next().is_some() {}
        // At the cap nothing is accepted: new clients wait in the kernel's backlog.
        let permit = tokio::select! {
            _ = &mut stop => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let draining = draining.clone();
        let service = make(peer)
            .map_request(|req: axum::http::Request<Incoming>| req.map(Body::new))
            .map_response(move |mut res: Response| {
                if draining.is_set() {
                    res.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                res
            });
        let builder = builder.clone();
        let mut closing = closing_rx.clone();
        connections.spawn(async move {
            let _permit = permit;
            let conn =
                builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            let mut conn = pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = closing.wait_for(|c| *c) => {}
            }
            // Idle connections close at once, busy ones after their response.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_ok()
}
