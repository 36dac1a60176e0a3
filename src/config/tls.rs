//! `[tls]`: DNS over TLS (RFC 7858) and DNS over HTTPS (RFC 8484) — where they listen, the
//! certificate and key they present, the DoH path and the proxies whose forwarded client address
//! is believed. Off unless the section is written. The certificate and key are read and checked
//! here, by the loader every start, reload and `check` runs, so that a file that does not parse,
//! or a key that is not the certificate's, is an error at the key that names it.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use ipnet::IpNet;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::ParsedCertificate;
use tokio_rustls::rustls::sign::CertifiedKey;
use toml::Spanned;

use super::file::TlsSection;
use super::locate::Context;
use super::values::{self, Min, Seconds};
use crate::limits::TlsSettings;
use crate::located::Located;

/// DNS over TLS's port (RFC 7858 §3.1), used for an address written without one.
const DOT_PORT: u16 = 853;
/// HTTPS's port, likewise for DNS over HTTPS.
const DOH_PORT: u16 = 443;
/// The path RFC 8484's examples use and clients default to.
const DOH_PATH: &str = "/dns-query";

/// A TLS handshake longer than this is cut off: a client that opens connections and stalls
/// its hello would otherwise hold a connection slot each.
const HANDSHAKE_TIMEOUT: Seconds = Seconds {
    min: Min::Above(0.0),
    max: 60.0,
    default: std::time::Duration::from_secs(5),
};

/// A validated `[tls]` section.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// The PEM files, resolved against the config's directory: watched, so that a renewed
    /// certificate is served from the next connection on.
    pub certificate: PathBuf,
    pub key: PathBuf,
    /// The name clients ask for, which the certificate must cover (`check` warns otherwise).
    pub name: Option<String>,
    pub dot_listen: Vec<SocketAddr>,
    pub doh_listen: Vec<SocketAddr>,
    /// What the server serves with (the key pair as read now).
    pub settings: TlsSettings,
    /// Where `certificate` is written: what a finding about the certificate points at.
    pub certificate_at: Located,
}

pub(super) fn validate(
    section: &TlsSection,
    listen: &[SocketAddr],
    cx: &mut Context,
) -> Option<TlsConfig> {
    let mark = cx.mark();
    let certificate = cx.resolve(section.certificate.get_ref());
    let key = cx.resolve(section.key.get_ref());
    let chain = read_chain(&section.certificate, &certificate, cx);
    let private = read_key(&section.key, &key, cx);
    let pair = match (chain, private) {
        (Some(chain), Some(private)) => {
            match CertifiedKey::from_der(chain, private, &ring::default_provider()) {
                Ok(pair) => Some(pair),
                // rustls's own words here are a type name (`KeyMismatch`): the sentence says it.
                Err(_) => {
                    cx.error(
                        section.key.span(),
                        format!(
                            "[tls] key {} does not go with certificate {}: the key is not the certificate's (a renewal with a new key must replace both files)",
                            key.display(),
                            certificate.display()
                        ),
                    );
                    None
                }
            }
        }
        _ => None,
    };
    let name = section.name.as_ref().and_then(|name| {
        match ServerName::try_from(name.get_ref().as_str()) {
            Ok(_) => Some(name.get_ref().trim_end_matches('.').to_ascii_lowercase()),
            Err(_) => {
                cx.error(
                    name.span(),
                    format!(
                        "bad [tls] name {:?}: expected the host name clients ask for, e.g. \"dns.contoso.example\"",
                        name.get_ref()
                    ),
                );
                None
            }
        }
    });
    let dot_listen = addresses(
        section.dot_listen.as_deref(),
        listen,
        DOT_PORT,
        "dot_listen",
        cx,
    );
    let doh_listen = addresses(
        section.doh_listen.as_deref(),
        listen,
        DOH_PORT,
        "doh_listen",
        cx,
    );
    let doh_path = match &section.doh_path {
        None => DOH_PATH.to_string(),
        Some(path) if path.get_ref().starts_with('/') && !path.get_ref().contains(['?', '#']) => {
            path.get_ref().clone()
        }
        Some(path) => {
            cx.error(
                path.span(),
                format!(
                    "bad [tls] doh_path {:?}: expected an absolute path without a query, e.g. \"/dns-query\"",
                    path.get_ref()
                ),
            );
            DOH_PATH.to_string()
        }
    };
    let trusted_proxies: Vec<IpNet> = section
        .trusted_proxies
        .iter()
        .filter_map(|text| match values::prefix(text.get_ref()) {
            Ok(net) => Some(net),
            Err(message) => {
                cx.error(text.span(), format!("[tls] trusted_proxies: {message}"));
                None
            }
        })
        .collect();
    let handshake_timeout = HANDSHAKE_TIMEOUT.check(
        section.handshake_timeout.as_ref(),
        "[tls] handshake_timeout",
        cx,
    );
    if cx.erred_since(mark) {
        return None;
    }
    Some(TlsConfig {
        certificate,
        key,
        name,
        dot_listen,
        doh_listen,
        settings: TlsSettings {
            key: Arc::new(pair?),
            doh_path,
            trusted_proxies,
            handshake_timeout,
        },
        certificate_at: cx.at(section.certificate.span()),
    })
}

/// The PEM certificate chain at `path`, the server's own certificate first.
fn read_chain(
    written: &Spanned<String>,
    path: &std::path::Path,
    cx: &mut Context,
) -> Option<Vec<CertificateDer<'static>>> {
    let problem = |message: String, cx: &mut Context| {
        cx.error(
            written.span(),
            format!("[tls] certificate {}: {message}", path.display()),
        );
        None
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return problem(format!("cannot read it: {e}"), cx),
    };
    let mut chain = Vec::new();
    for item in CertificateDer::pem_slice_iter(&bytes) {
        match item {
            Ok(der) => chain.push(der),
            Err(e) => return problem(format!("not PEM: {e}"), cx),
        }
    }
    let Some(leaf) = chain.first() else {
        return problem(
            "no PEM CERTIFICATE block in it (expected the server's certificate, then its intermediates)"
                .into(),
            cx,
        );
    };
    if let Err(e) = ParsedCertificate::try_from(leaf) {
        return problem(format!("its first certificate does not parse: {e}"), cx);
    }
    Some(chain)
}

/// The PEM private key at `path` (PKCS#8, or the RSA or EC forms OpenSSL writes).
fn read_key(
    written: &Spanned<String>,
    path: &std::path::Path,
    cx: &mut Context,
) -> Option<PrivateKeyDer<'static>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            cx.error(
                written.span(),
                format!("[tls] key {}: cannot read it: {e}", path.display()),
            );
            return None;
        }
    };
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Some(key),
        Err(e) => {
            cx.error(
                written.span(),
                format!(
                    "[tls] key {}: no usable PEM private key in it ({e})",
                    path.display()
                ),
            );
            None
        }
    }
}

/// `dot_listen` or `doh_listen`: each `IP:PORT`, or an `IP` alone on the protocol's port;
/// when not written, every `listen` address's IP on that port.
fn addresses(
    written: Option<&[Spanned<String>]>,
    listen: &[SocketAddr],
    port: u16,
    key: &str,
    cx: &mut Context,
) -> Vec<SocketAddr> {
    let Some(written) = written else {
        let mut ips: Vec<IpAddr> = listen.iter().map(SocketAddr::ip).collect();
        ips.dedup();
        return ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect();
    };
    written
        .iter()
        .filter_map(|text| {
            let raw = text.get_ref();
            let parsed = raw
                .parse::<SocketAddr>()
                .ok()
                .or_else(|| raw.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, port)));
            if parsed.is_none() {
                cx.error(
                    text.span(),
                    format!(
                        "bad [tls] {key} address {raw:?}: expected IP or IP:PORT, e.g. \"10.0.0.53\" (port {port}) or \"[::1]:{port}\""
                    ),
                );
            }
            parsed
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse;
    use crate::config::tests::EXAMPLE;
    use crate::scratch::Scratch;

    fn pair(dir: &Path, name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        ("cert.pem".into(), "key.pem".into())
    }

    fn errors(config: &str, dir: &Path) -> Vec<String> {
        match parse(config, &dir.join("splitdns.toml")) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    /// Off without the section; with it, the files relative to the config, both listeners on
    /// the `listen` addresses' IPs at 853 and 443, `/dns-query`, and a bare IP gets the port.
    #[test]
    fn defaults_and_relative_files() {
        let scratch = Scratch::new("config-tls");
        let dir = scratch.path();
        assert!(
            parse(EXAMPLE, &dir.join("splitdns.toml"))
                .unwrap()
                .tls
                .is_none()
        );
        let (cert, key) = pair(dir, "dns.contoso.example");
        let config = parse(
            &format!("{EXAMPLE}\n[tls]\ncertificate = {cert:?}\nkey = {key:?}\n"),
            &dir.join("splitdns.toml"),
        )
        .unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(tls.certificate, dir.join("cert.pem"));
        assert_eq!(tls.dot_listen, vec!["127.0.0.1:853".parse().unwrap()]);
        assert_eq!(tls.doh_listen, vec!["127.0.0.1:443".parse().unwrap()]);
        assert_eq!(tls.settings.doh_path, "/dns-query");
        let config = parse(
            &format!(
                "{EXAMPLE}\n[tls]\ncertificate = {cert:?}\nkey = {key:?}\ndot_listen = [\"10.0.0.53\", \"[::1]:8853\"]\ndoh_listen = []\ntrusted_proxies = [\"10.0.0.80\"]\n"
            ),
            &dir.join("splitdns.toml"),
        )
        .unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(
            tls.dot_listen,
            vec![
                "10.0.0.53:853".parse().unwrap(),
                "[::1]:8853".parse().unwrap()
            ]
        );
        assert!(tls.doh_listen.is_empty());
        assert_eq!(tls.settings.trusted_proxies.len(), 1);
    }

    /// A missing file, a file without a certificate, a key of another certificate and bad
    /// values are each an error at the key's line, naming the file.
    #[test]
    fn bad_files_and_values_are_located() {
        let scratch = Scratch::new("config-tls-bad");
        let dir = scratch.path();
        let (cert, key) = pair(dir, "dns.contoso.example");
        let lines = EXAMPLE.lines().count();
        let missing = errors(
            &format!("{EXAMPLE}\n[tls]\ncertificate = \"nope.pem\"\nkey = {key:?}\n"),
            dir,
        );
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0].contains(&format!(
                "splitdns.toml:{}:15: [tls] certificate ",
                lines + 3
            )) && missing[0].contains("nope.pem: cannot read it"),
            "{missing:?}"
        );
        let not_a_cert = errors(
            &format!("{EXAMPLE}\n[tls]\ncertificate = {key:?}\nkey = {key:?}\n"),
            dir,
        );
        assert!(
            not_a_cert[0].contains("no PEM CERTIFICATE block"),
            "{not_a_cert:?}"
        );
        std::fs::write(
            dir.join("other.pem"),
            rcgen::KeyPair::generate().unwrap().serialize_pem(),
        )
        .unwrap();
        let mismatch = errors(
            &format!("{EXAMPLE}\n[tls]\ncertificate = {cert:?}\nkey = \"other.pem\"\n"),
            dir,
        );
        assert!(
            mismatch[0].contains(&format!("splitdns.toml:{}:7: [tls] key ", lines + 4))
                && mismatch[0].contains("does not go with certificate"),
            "{mismatch:?}"
        );
        let values = errors(
            &format!(
                "{EXAMPLE}\n[tls]\ncertificate = {cert:?}\nkey = {key:?}\ndot_listen = [\"dns\"]\ndoh_path = \"dns-query\"\ntrusted_proxies = [\"10.0.0.1/8\"]\nname = \"not a name\"\nhandshake_timeout = 0.0\nport = 853\n"
            ),
            dir,
        );
        assert_eq!(values.len(), 6, "{values:?}");
        assert!(values[0].contains("unknown field `port`"), "{values:?}");
    }
}
