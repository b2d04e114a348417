//! Submit latency, measured where the gRPC server answers: a tower layer
//! around the controller's services that times `SubmitJob` calls from
//! the request to the response, so `client_service` needs no hook.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::http::{HeaderMap, Request, Response};

use super::ControllerMetrics;

/// The gRPC path of `corral.v1.Corral.SubmitJob` (proto/corral.proto).
pub const SUBMIT_PATH: &str = "/corral.v1.Corral/SubmitJob";

#[derive(Clone)]
pub struct SubmitTimerLayer {
    metrics: Arc<ControllerMetrics>,
}

impl SubmitTimerLayer {
    pub fn new(metrics: Arc<ControllerMetrics>) -> SubmitTimerLayer {
        SubmitTimerLayer { metrics }
    }
}

impl<S> tower_layer::Layer<S> for SubmitTimerLayer {
    type Service = SubmitTimer<S>;

    fn layer(&self, inner: S) -> SubmitTimer<S> {
        SubmitTimer {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct SubmitTimer<S> {
    inner: S,
    metrics: Arc<ControllerMetrics>,
}

impl<S, B, R> tower_service::Service<Request<B>> for SubmitTimer<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let timed = request.uri().path() == SUBMIT_PATH;
        let started = Instant::now();
        let answer = self.inner.call(request);
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let response = answer.await;
            if timed && response.as_ref().is_ok_and(|r| answered_ok(r.headers())) {
                metrics.submit_duration.observe(started.elapsed());
            }
            response
        })
    }
}

/// A gRPC error (a follower's redirect, a refused token) comes back as a
/// response whose headers carry a non-zero `grpc-status`; a success has
/// its status in the trailers, after the reply.
fn answered_ok(headers: &HeaderMap) -> bool {
    headers
        .get("grpc-status")
        .is_none_or(|status| status.as_bytes() == b"0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_status_in_the_headers_is_not_a_submission() {
        let mut headers = HeaderMap::new();
        assert!(answered_ok(&headers));
        headers.insert("grpc-status", "0".parse().unwrap());
        assert!(answered_ok(&headers));
        headers.insert("grpc-status", "9".parse().unwrap());
        assert!(!answered_ok(&headers));
    }
}
