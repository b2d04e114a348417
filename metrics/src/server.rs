//! Serving an axum router over plain HTTP/1.1 with hyper, until shut down.

use std::future::Future;
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Connections served at once; more are closed at once (a scraper or a
/// health check needs one).
pub const CONNECTIONS_MAX: usize = 64;
/// A client has this long to send its request headers.
pub const HEADER_READ_TIMEOUT_MS: u64 = 5_000;

/// Listens on `address` (`host:port`).
pub async fn bind(address: &str) -> Result<TcpListener, String> {
    TcpListener::bind(address)
        .await
        .map_err(|error| format!("{address}: cannot listen for HTTP: {error}"))
}

/// Serves `router` on `listener` until `shutdown` completes; then every
/// open connection is dropped.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()>,
) {
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::debug!("HTTP accept: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if connections.len() >= CONNECTIONS_MAX {
            continue;
        }
        let service = TowerToHyperService::new(router.clone());
        connections.spawn(async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_millis(HEADER_READ_TIMEOUT_MS))
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(error) = served {
                tracing::debug!("HTTP connection: {error}");
            }
        });
    }
    connections.abort_all();
}

/// A `text/plain` response; `body` gets a final newline.
pub fn plain_text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut body = body.into();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}
