//! TLS channels to controllers.

use std::time::Duration;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

/// How long to wait for a TCP and TLS connection to a controller.
pub const CONNECT_TIMEOUT_MS: u64 = 1_000;
/// TCP keepalive and HTTP/2 pings notice a dead peer on an idle connection.
pub const KEEPALIVE_INTERVAL_MS: u64 = 2_000;

/// What a client needs to open TLS channels: the cluster CA, and for
/// controllers and agents their own certificate.
#[derive(Clone)]
pub struct ClientTls {
    pub ca_pem: Vec<u8>,
    /// Certificate chain and key (PEM) presented to the server, if any.
    pub identity_pem: Option<(Vec<u8>, Vec<u8>)>,
}

/// An endpoint for `address` (`host:port`) that verifies the server against
/// the cluster CA under the name `host`. Connects lazily.
pub fn endpoint(address: &str, tls: &ClientTls) -> Result<Endpoint, tonic::transport::Error> {
    let host = host_of(address);
    let mut tls_config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&tls.ca_pem))
        .domain_name(host);
    if let Some((cert, key)) = &tls.identity_pem {
        tls_config = tls_config.identity(Identity::from_pem(cert, key));
    }
    Ok(Endpoint::from_shared(format!("https://{address}"))?
        .tls_config(tls_config)?
        .connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
        .tcp_nodelay(true)
        .tcp_keepalive(Some(Duration::from_millis(KEEPALIVE_INTERVAL_MS)))
        .http2_keep_alive_interval(Duration::from_millis(KEEPALIVE_INTERVAL_MS))
        .keep_alive_timeout(Duration::from_millis(KEEPALIVE_INTERVAL_MS))
        .keep_alive_while_idle(true))
}

/// The host part of `host:port` or `[v6]:port`.
pub fn host_of(address: &str) -> String {
    let host = address
        .rsplit_once(':')
        .map(|(host, _)| host)
        .unwrap_or(address);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn host_of_strips_port_and_brackets() {
        assert_eq!(host_of("127.0.0.1:7001"), "127.0.0.1");
        assert_eq!(host_of("ctl1.example.org:7001"), "ctl1.example.org");
        assert_eq!(host_of("[::1]:7001"), "::1");
    }
}
