//! What a server presents: a TCP connection, SMTP's STARTTLS dialogue where the port speaks SMTP
//! first (RFC 3207), and a TLS handshake that accepts any certificate, for the certificate chain
//! as the server sent it. This is what the DANE checks compare and `splitdns tlsa` prints: a
//! report of what is presented, never a judgement of it. The handshake's own signature is still
//! checked, so the chain is the one whose key the server holds.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::client::Resumption;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use super::probe::tls_failure;
use super::tls::Verifier;

/// How TLS starts on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opening {
    /// At once (HTTPS, SMTPS on 465, most ports).
    Tls,
    /// After SMTP's greeting, EHLO and STARTTLS (ports 25 and 587).
    SmtpStarttls,
}

/// The longest SMTP reply read (a greeting, or EHLO's list of extensions): a server that sends
/// more is not one whose certificate can be asked for.
const MAX_REPLY: usize = 16 * 1024;

/// The chain `address` presents with `server_name` as SNI (none when it is an address), leaf
/// first, or why it could not be had, within `timeout`.
pub(crate) async fn chain(
    address: SocketAddr,
    server_name: &str,
    opening: Opening,
    timeout: Duration,
) -> Result<Vec<CertificateDer<'static>>, String> {
    match tokio::time::timeout(timeout, unbounded(address, server_name, opening)).await {
        Ok(result) => result,
        Err(_) => Err(match opening {
            Opening::SmtpStarttls => format!(
                "timeout: no SMTP greeting, STARTTLS or TLS handshake within {timeout:?} (is it an SMTP server?)"
            ),
            _ => format!("timeout: no TLS handshake within {timeout:?}"),
        }),
    }
}

async fn unbounded(
    address: SocketAddr,
    server_name: &str,
    opening: Opening,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|e| format!("bad server name {server_name}: {e}"))?;
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            _ => format!("connect: {e}"),
        })?;
    if opening == Opening::SmtpStarttls {
        starttls(&mut stream).await?;
    }
    let mut tls = TlsConnector::from(client_config()?)
        .connect(name, stream)
        .await
        .map_err(tls_failure)?;
    let chain = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(<[CertificateDer<'static>]>::to_vec)
        .unwrap_or_default();
    // A polite end; the chain is had whatever the server makes of it.
    if opening == Opening::SmtpStarttls {
        let _ = tls.write_all(b"QUIT\r\n").await;
    }
    let _ = tls.shutdown().await;
    if chain.is_empty() {
        return Err("the server presented no certificate".into());
    }
    Ok(chain)
}

/// A client that takes any certificate, and makes a full handshake every time: a resumed session
/// presents no certificate, and would hide one replaced since.
fn client_config() -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Verifier::new(false, None))
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

/// SMTP up to the point where TLS starts: the greeting (220), EHLO (250, offering STARTTLS),
/// STARTTLS (220). Nothing may follow the last reply before the handshake: bytes sent ahead of
/// it would be read as if they came through TLS (the STARTTLS injection of CVE-2011-0411).
async fn starttls(stream: &mut TcpStream) -> Result<(), String> {
    let mut pending = Vec::new();
    let greeting = reply(stream, &mut pending).await?;
    greeting.expect(220, "greeting")?;
    // An address literal is always a valid EHLO argument (RFC 5321 §4.1.3); a name we would have
    // to make up.
    let literal = match stream.local_addr().map(|a| a.ip()) {
        Ok(IpAddr::V4(v4)) => format!("[{v4}]"),
        Ok(IpAddr::V6(v6)) => format!("[IPv6:{v6}]"),
        Err(e) => return Err(format!("local address: {e}")),
    };
    send(stream, &format!("EHLO {literal}\r\n")).await?;
    let ehlo = reply(stream, &mut pending).await?;
    ehlo.expect(250, "EHLO")?;
    let offered = ehlo.lines.iter().skip(1).any(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|keyword| keyword.eq_ignore_ascii_case("STARTTLS"))
    });
    if !offered {
        return Err("the SMTP server does not offer STARTTLS".into());
    }
    send(stream, "STARTTLS\r\n").await?;
    reply(stream, &mut pending).await?.expect(220, "STARTTLS")?;
    if !pending.is_empty() {
        return Err("the SMTP server sent data after its reply to STARTTLS".into());
    }
    Ok(())
}

async fn send(stream: &mut TcpStream, line: &str) -> Result<(), String> {
    stream
        .write_all(line.as_bytes())
        .await
        .map_err(|e| format!("SMTP: sending {}: {e}", line.trim_end()))
}

/// One SMTP reply: its code and the text of each line.
#[derive(Debug, PartialEq, Eq)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn expect(&self, code: u16, after: &str) -> Result<(), String> {
        if self.code == code {
            return Ok(());
        }
        let text = self.lines.first().map_or("", String::as_str);
        Err(format!("SMTP {after}: {} {text}", self.code))
    }
}

/// Reads one reply (`250-…` lines, then `250 …`), keeping what arrived after it in `pending`.
async fn reply(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Result<Reply, String> {
    let mut buf = [0u8; 1024];
    loop {
        if let Some((reply, used)) = parse_reply(pending)? {
            pending.drain(..used);
            return Ok(reply);
        }
        if pending.len() > MAX_REPLY {
            return Err(format!("SMTP: a reply longer than {MAX_REPLY} bytes"));
        }
        match stream.read(&mut buf).await {
            Ok(0) => return Err("SMTP: the server closed the connection".into()),
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("SMTP: {e}")),
        }
    }
}

/// The first complete reply in `input` and the bytes it took, or `None` while it is not whole.
fn parse_reply(input: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let mut lines = Vec::new();
    let mut used = 0;
    while let Some(end) = input[used..].iter().position(|&b| b == b'\n') {
        let line = &input[used..used + end];
        used += end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let code = line
            .get(..3)
            .filter(|code| code.iter().all(u8::is_ascii_digit))
            .and_then(|code| std::str::from_utf8(code).ok()?.parse::<u16>().ok())
            .ok_or_else(|| {
                format!(
                    "SMTP: not a reply line: {:?}",
                    String::from_utf8_lossy(&line[..line.len().min(80)])
                )
            })?;
        lines.push(String::from_utf8_lossy(line.get(4..).unwrap_or_default()).into_owned());
        if line.get(3) != Some(&b'-') {
            return Ok(Some((Reply { code, lines }, used)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::{Reply, parse_reply};

    #[test]
    fn smtp_replies_are_read_whole() {
        let ehlo =
            b"250-mail.contoso.example Hello\r\n250-SIZE 37748736\r\n250 STARTTLS\r\n220 next";
        let (reply, used) = parse_reply(ehlo).unwrap().unwrap();
        assert_eq!(
            reply,
            Reply {
                code: 250,
                lines: vec![
                    "mail.contoso.example Hello".into(),
                    "SIZE 37748736".into(),
                    "STARTTLS".into()
                ]
            }
        );
        assert_eq!(&ehlo[used..], b"220 next");
        assert_eq!(parse_reply(b"250-first\r\n250 sec").unwrap(), None);
        assert_eq!(parse_reply(b"220\n").unwrap().unwrap().0.code, 220);
        assert!(parse_reply(b"SSH-2.0-OpenSSH\r\n").is_err());
    }
}
