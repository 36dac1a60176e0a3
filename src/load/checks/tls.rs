//! Checks about the certificate DNS over TLS and HTTPS present: expired, expiring within
//! [`EXPIRY_WARNING_DAYS`], or not covering `[tls] name`. Every client that matters verifies the
//! name and the dates (Android's Private DNS, Windows' DoH, Apple's profiles) and, refused,
//! falls back to clear text or to no DNS at all — so the admin hears it before the clients do.

use std::sync::Arc;

use tokio_rustls::rustls::client::verify_server_name;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::server::ParsedCertificate;

use super::{Finding, Severity};
use crate::config::Config;
use crate::health::cert;
use crate::located::SourceLoc;

/// How long before its expiry a certificate is reported: a month leaves time to renew.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// The findings about `[tls]`'s certificate at `now` (Unix seconds).
pub(super) fn certificate(config: &Config, now: i64, findings: &mut Vec<Finding>) {
    let Some(tls) = &config.tls else { return };
    let loc = SourceLoc {
        file: Arc::new(tls.certificate_at.file.clone()),
        line: tls.certificate_at.line,
    };
    let file = tls.certificate.display();
    let about = |finding: Finding| match &tls.name {
        Some(name) => finding.about(name),
        None => finding,
    };
    let Some(leaf) = tls.settings.key.cert.first() else {
        return;
    };
    if let Some((_, not_after)) = cert::validity(leaf) {
        let expires = cert::date(not_after);
        if not_after <= now {
            findings.push(about(Finding::new(
                "tls-certificate-expired",
                Severity::Warning,
                None,
                Some(&loc),
                format!(
                    "the DNS over TLS/HTTPS certificate {file} expired {expires}: clients refuse it (Android's Private DNS then fails every lookup); renew it, and splitdns presents the new one as soon as the file is replaced"
                ),
            )));
        } else if not_after - now < EXPIRY_WARNING_DAYS * 86_400 {
            findings.push(about(Finding::new(
                "tls-certificate-expires-soon",
                Severity::Warning,
                None,
                Some(&loc),
                format!(
                    "the DNS over TLS/HTTPS certificate {file} expires {expires} (within {EXPIRY_WARNING_DAYS} days): renew it; splitdns presents the new one as soon as the file is replaced"
                ),
            )));
        }
    }
    let Some(name) = &tls.name else { return };
    let (Ok(parsed), Ok(server_name)) = (
        ParsedCertificate::try_from(leaf),
        ServerName::try_from(name.as_str()),
    ) else {
        return;
    };
    if verify_server_name(&parsed, &server_name).is_err() {
        findings.push(about(Finding::new(
            "tls-certificate-name-mismatch",
            Severity::Warning,
            None,
            Some(&loc),
            format!(
                "the DNS over TLS/HTTPS certificate {file} does not cover [tls] name {name}: clients configured with that name refuse it; use a certificate whose subject alternative names include it"
            ),
        )));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse;
    use crate::scratch::Scratch;

    const EXAMPLE: &str =
        "listen = [\"127.0.0.1:5353\"]\n\n[[view]]\nname = \"all\"\nclients = [\"0.0.0.0/0\"]\n";

    /// Made with rcgen for `name`, valid until the day of `not_after` (Unix seconds, midnight).
    fn findings(dir: &Path, name: &str, configured: &str, not_after: i64) -> Vec<String> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        let (year, month, day) = crate::dns::time::civil_from_days(not_after.div_euclid(86_400));
        params.not_after = rcgen::date_time_ymd(year as i32, month as u8, day as u8);
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        let config = parse(
            &format!(
                "{EXAMPLE}\n[tls]\ncertificate = \"cert.pem\"\nkey = \"key.pem\"\nname = {configured:?}\n"
            ),
            &dir.join("splitdns.toml"),
        )
        .unwrap();
        let mut out = Vec::new();
        super::certificate(&config, 2_000_000_000, &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn expired_expiring_and_foreign_certificates_are_reported() {
        let scratch = Scratch::new("checks-tls");
        let dir = scratch.path();
        let day = 86_400;
        assert!(
            findings(
                dir,
                "dns.contoso.example",
                "dns.contoso.example",
                2_000_000_000 + 90 * day
            )
            .is_empty()
        );
        let soon = findings(
            dir,
            "dns.contoso.example",
            "DNS.contoso.example.",
            2_000_000_000 + 10 * day,
        );
        assert_eq!(soon.len(), 1, "{soon:?}");
        assert!(
            soon[0].contains("warning[tls-certificate-expires-soon]"),
            "{soon:?}"
        );
        assert!(soon[0].contains("splitdns.toml:8: "), "{soon:?}");
        let expired = findings(
            dir,
            "*.contoso.example",
            "dns.contoso.example",
            2_000_000_000 - day,
        );
        assert_eq!(expired.len(), 1, "a wildcard covers the name: {expired:?}");
        assert!(expired[0].contains("expired 2033-05-17"), "{expired:?}");
        let foreign = findings(
            dir,
            "mail.contoso.example",
            "dns.contoso.example",
            2_000_000_000 + 90 * day,
        );
        assert_eq!(foreign.len(), 1, "{foreign:?}");
        assert!(
            foreign[0].contains("does not cover [tls] name dns.contoso.example"),
            "{foreign:?}"
        );
    }
}
