//! `splitdns tlsa HOST:PORT [--starttls smtp] [--name NAME]`: the TLSA records that match the
//! certificate chain a server presents now, as zone file lines — `3 1 1` (DANE-EE, the SHA-256
//! of the server certificate's public key) and `2 1 1` (DANE-TA, the same of the CA certificate
//! that issued it, when the server sends that one) — for the owner `_PORT._tcp.NAME.`. A HOST
//! that is a name is looked up (the system's resolver) and each of its addresses asked; servers
//! presenting the same chain share one block. Any certificate is taken: this reports what is
//! presented, it does not judge it. Exit status 1 when an address could not be asked.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tokio_rustls::rustls::pki_types::CertificateDer;

use crate::dns::name::Name;
use crate::health::dane::{Opening, Tlsa, tlsa};
use crate::health::{cert, presented_chain};

/// What is spoken before TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Starttls {
    /// SMTP (RFC 3207): the greeting, EHLO, STARTTLS.
    Smtp,
}

/// How long one address may take: connect, STARTTLS and the handshake.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The ports where SMTP comes first: a handshake there without `--starttls smtp` fails, and the
/// error says why.
const SMTP_PORTS: [u16; 2] = [25, 587];

#[derive(Debug, thiserror::Error)]
enum TlsaError {
    #[error(
        "{0:?} is not HOST:PORT (a name or an address, a colon, a port from 1 to 65535; an IPv6 address in brackets)"
    )]
    Server(String),
    #[error("{0} is an address: name the host the records are for with --name")]
    NameNeeded(IpAddr),
    #[error("bad host name {name:?}: {reason}")]
    Name { name: String, reason: String },
    #[error("cannot look up {host}: {source}")]
    Lookup {
        host: String,
        source: std::io::Error,
    },
    #[error("{0} has no address")]
    NoAddress(String),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// What was asked: where, which name (owner and SNI), and how TLS starts.
struct Asked {
    /// The name or address as given, and the port.
    host: String,
    port: u16,
    /// Lowercased, without the final dot.
    name: String,
    opening: Opening,
}

pub fn run(server: &str, starttls: Option<Starttls>, name: Option<&str>) -> ExitCode {
    let asked = match asked(server, starttls, name) {
        Ok(asked) => asked,
        Err(e) => {
            eprintln!("splitdns tlsa: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(TlsaError::Runtime)
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("splitdns tlsa: {e}");
            return ExitCode::FAILURE;
        }
    };
    let results = match runtime.block_on(ask(&asked)) {
        Ok(results) => results,
        Err(e) => {
            eprintln!("splitdns tlsa: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    // Addresses that present the same chain, in the order asked.
    let mut groups: Vec<(Vec<SocketAddr>, Vec<CertificateDer<'static>>)> = Vec::new();
    for (address, result) in results {
        match result {
            Ok(chain) => match groups.iter_mut().find(|(_, seen)| *seen == chain) {
                Some((addresses, _)) => addresses.push(address),
                None => groups.push((vec![address], chain)),
            },
            Err(reason) => {
                failed = true;
                let smtp_first = asked.opening == Opening::Tls
                    && SMTP_PORTS.contains(&asked.port)
                    && reason.starts_with("TLS");
                let hint = if smtp_first {
                    format!(
                        " (port {} speaks SMTP first: add --starttls smtp)",
                        asked.port
                    )
                } else {
                    String::new()
                };
                eprintln!("splitdns tlsa: {address}: {reason}{hint}");
            }
        }
    }
    for (addresses, chain) in &groups {
        print!("{}", describe(&asked, addresses, chain));
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The arguments, checked: HOST:PORT split, the name the records are for.
fn asked(server: &str, starttls: Option<Starttls>, name: Option<&str>) -> Result<Asked, TlsaError> {
    let (host, port) = match server.parse::<SocketAddr>() {
        Ok(address) => (address.ip().to_string(), address.port()),
        Err(_) => {
            let (host, port) = server
                .rsplit_once(':')
                .ok_or_else(|| TlsaError::Server(server.to_string()))?;
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|&port| port != 0)
                .ok_or_else(|| TlsaError::Server(server.to_string()))?;
            if host.is_empty() || host.contains(':') {
                return Err(TlsaError::Server(server.to_string()));
            }
            (host.to_string(), port)
        }
    };
    let name = match (name, host.parse::<IpAddr>()) {
        (Some(name), _) => name,
        (None, Ok(address)) => return Err(TlsaError::NameNeeded(address)),
        (None, Err(_)) => &host,
    };
    let parsed = Name::parse(name, Some(&Name::root())).map_err(|e| TlsaError::Name {
        name: name.to_string(),
        reason: e.to_string(),
    })?;
    if parsed.is_root() {
        return Err(TlsaError::Name {
            name: name.to_string(),
            reason: "the root is no host".into(),
        });
    }
    Ok(Asked {
        host,
        port,
        name: parsed
            .to_lowercase()
            .to_string()
            .trim_end_matches('.')
            .to_string(),
        opening: match starttls {
            Some(Starttls::Smtp) => Opening::SmtpStarttls,
            None => Opening::Tls,
        },
    })
}

/// Each address of the host, asked in turn, with what it presented.
async fn ask(
    asked: &Asked,
) -> Result<Vec<(SocketAddr, Result<Vec<CertificateDer<'static>>, String>)>, TlsaError> {
    let mut addresses: Vec<SocketAddr> = match asked.host.parse::<IpAddr>() {
        Ok(address) => vec![SocketAddr::new(address, asked.port)],
        Err(_) => tokio::net::lookup_host((asked.host.as_str(), asked.port))
            .await
            .map_err(|source| TlsaError::Lookup {
                host: asked.host.clone(),
                source,
            })?
            .collect(),
    };
    addresses.dedup();
    if addresses.is_empty() {
        return Err(TlsaError::NoAddress(asked.host.clone()));
    }
    let mut results = Vec::with_capacity(addresses.len());
    for address in addresses {
        let chain = presented_chain(address, &asked.name, asked.opening, TIMEOUT).await;
        results.push((address, chain));
    }
    Ok(results)
}

/// One block of zone file lines: a comment saying where the chain came from, then the records.
fn describe(asked: &Asked, addresses: &[SocketAddr], chain: &[CertificateDer<'_>]) -> String {
    let owner = format!("_{}._tcp.{}.", asked.port, asked.name);
    let at: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    let how = match asked.opening {
        Opening::SmtpStarttls => " (STARTTLS)",
        Opening::Tls => "",
    };
    let until = cert::validity(&chain[0])
        .map(|(_, not_after)| format!(", certificate valid until {}", cert::date(not_after)))
        .unwrap_or_default();
    let mut text = format!("; {} at {}{how}{until}\n", asked.name, at.join(", "));
    let records = tlsa::presented(chain);
    let line = |record: &Tlsa| format!("{owner} IN TLSA {record}\n");
    match records.first() {
        Some(leaf) => text.push_str(&line(leaf)),
        None => text.push_str("; its certificate does not parse: no record\n"),
    }
    match records.get(1) {
        Some(issuer) => {
            text.push_str("; the CA certificate that issued it, as the server sends it\n");
            text.push_str(&line(issuer));
        }
        None => text.push_str(
            "; no 2 1 1: the server does not send the CA certificate that issued its own\n",
        ),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_and_name() {
        let ok = |server: &str, name: Option<&str>| {
            let asked = asked(server, None, name).unwrap();
            (asked.host, asked.port, asked.name)
        };
        assert_eq!(
            ok("Mail.Contoso.Example.:25", None),
            (
                "Mail.Contoso.Example.".into(),
                25,
                "mail.contoso.example".into()
            )
        );
        assert_eq!(
            ok("[2001:db8::21]:443", Some("mail.contoso.example")),
            ("2001:db8::21".into(), 443, "mail.contoso.example".into())
        );
        assert!(matches!(
            asked("10.0.0.21:25", None, None),
            Err(TlsaError::NameNeeded(_))
        ));
        for bad in [
            "mail.contoso.example",
            "mail:0",
            "mail:99999",
            ":25",
            "2001:db8::21:25",
        ] {
            assert!(
                matches!(asked(bad, None, None), Err(TlsaError::Server(_))),
                "{bad}"
            );
        }
    }
}
