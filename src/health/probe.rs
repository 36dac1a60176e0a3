//! One check of one target: connect (`tcp`), or connect, TLS with the namespace as server name
//! and a hand-written `GET <path> HTTP/1.1` whose status must be 200 (`https`). A failure is the
//! reason the log line gives: `timeout`, `connection refused`, `HTTP 503`, a certificate problem.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

use super::tls::Verifier;
use super::{Kind, Target, cert};

/// Most of a response read for its status line: Exchange's health pages answer with a short
/// header, and nothing past the first line matters.
const MAX_STATUS_LINE: usize = 1024;

/// A check that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Passed {
    /// The certificate's `notAfter` (Unix seconds), for HTTPS checks that read one.
    pub not_after: Option<i64>,
}

/// Everything one target's checks reuse: the TLS client configuration with its verifier.
pub(super) struct Checker {
    target: Target,
    tls: Option<(TlsConnector, ServerName<'static>, Arc<Verifier>)>,
}

impl Checker {
    pub(super) fn new(target: &Target) -> Result<Checker, String> {
        let tls = match &target.probe.kind {
            Kind::Tcp => None,
            Kind::Https(https) => {
                let roots = https
                    .ca
                    .as_ref()
                    .map(|ca| cert::root_store(&ca.certificates));
                let verifier = Verifier::new(https.certificate_check, roots);
                let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
                let config = ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| format!("TLS setup: {e}"))?
                    .dangerous()
                    .with_custom_certificate_verifier(verifier.clone())
                    .with_no_client_auth();
                let name = ServerName::try_from(target.server_name.clone())
                    .map_err(|e| format!("bad server name {}: {e}", target.server_name))?;
                Some((TlsConnector::from(Arc::new(config)), name, verifier))
            }
        };
        Ok(Checker {
            target: target.clone(),
            tls,
        })
    }

    /// One check, bounded by the probe's timeout.
    pub(super) async fn check(&self) -> Result<Passed, String> {
        match tokio::time::timeout(self.target.probe.timeout, self.unbounded()).await {
            Ok(result) => result,
            Err(_) => Err("timeout".into()),
        }
    }

    async fn unbounded(&self) -> Result<Passed, String> {
        let address = std::net::SocketAddr::new(self.target.address, self.target.probe.port);
        let stream = TcpStream::connect(address)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                _ => format!("connect: {e}"),
            })?;
        let (Kind::Https(https), Some((connector, name, verifier))) =
            (&self.target.probe.kind, &self.tls)
        else {
            return Ok(Passed { not_after: None });
        };
        let mut tls = connector
            .connect(name.clone(), stream)
            .await
            .map_err(tls_failure)?;
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: splitdns-health\r\nConnection: close\r\n\r\n",
            https.path, self.target.server_name
        );
        tls.write_all(request.as_bytes())
            .await
            .map_err(|e| format!("sending the request: {e}"))?;
        let mut response = Vec::with_capacity(256);
        let mut buf = [0u8; 256];
        while !response.windows(2).any(|w| w == b"\r\n") && response.len() < MAX_STATUS_LINE {
            match tls.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => response.extend_from_slice(&buf[..n]),
                // Some servers end without close_notify once the response is out.
                Err(_) if !response.is_empty() => break,
                Err(e) => return Err(format!("reading the response: {e}")),
            }
        }
        match status(&response) {
            Some(200) => Ok(Passed {
                not_after: verifier.last_not_after(),
            }),
            Some(code) => Err(format!("HTTP {code}")),
            None if response.is_empty() => Err("no HTTP response".into()),
            None => Err("not an HTTP response".into()),
        }
    }
}

/// The status code of an `HTTP/1.x NNN …` status line.
fn status(response: &[u8]) -> Option<u16> {
    let line = response.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    if !words.next()?.starts_with("HTTP/1.") {
        return None;
    }
    words.next()?.parse().ok()
}

/// The reason a TLS handshake failed: the verifier's own words for a certificate it refused.
pub(super) fn tls_failure(error: std::io::Error) -> String {
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<tokio_rustls::rustls::Error>())
    {
        Some(tokio_rustls::rustls::Error::General(reason)) => reason.clone(),
        Some(other) if other.to_string().contains("UnsupportedCertVersion") => {
            "TLS: the certificate is X.509 version 1, which can be read over TLS 1.3 only (the server offers TLS 1.2)".into()
        }
        Some(other) => format!("TLS: {other}"),
        None => format!("TLS: {error}"),
    }
}

/// Checks `target` once (for `explain --probe`): up, or the reason it is not.
pub(crate) async fn probe_once(target: &Target) -> Result<(), String> {
    Checker::new(target)?.check().await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::status;

    #[test]
    fn status_lines() {
        assert_eq!(status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status(b"HTTP/1.0 503 Service Unavailable\r\nx"), Some(503));
        assert_eq!(status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status(b""), None);
    }
}
