//! The certificate check of an HTTPS probe, as a rustls verifier: the certificate's dates and
//! names are checked against the namespace (always, unless `certificate_check = false`), and its
//! chain against the configured CA when there is one. Each failure carries the reason the log
//! line gives (`certificate expired 2026-11-01`, `certificate does not cover …`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use tokio_rustls::rustls::crypto::{
    WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
    verify_tls13_signature_with_raw_key,
};
use tokio_rustls::rustls::pki_types::{
    CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime,
};
use tokio_rustls::rustls::server::ParsedCertificate;
use tokio_rustls::rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

use super::cert;

#[derive(Debug)]
pub(super) struct Verifier {
    check: bool,
    roots: Option<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
    /// The `notAfter` of the last certificate seen (Unix seconds; `i64::MIN`: none yet), for
    /// the expiry warning after a successful check.
    not_after: AtomicI64,
}

impl Verifier {
    pub(super) fn new(check: bool, roots: Option<RootCertStore>) -> Arc<Verifier> {
        Arc::new(Verifier {
            check,
            roots,
            algorithms: tokio_rustls::rustls::crypto::ring::default_provider()
                .signature_verification_algorithms,
            not_after: AtomicI64::new(i64::MIN),
        })
    }

    /// When the certificate of the last handshake expires, if it was read.
    pub(super) fn last_not_after(&self) -> Option<i64> {
        Some(self.not_after.load(Ordering::Relaxed)).filter(|&t| t != i64::MIN)
    }
}

/// A failed check with the reason for the log line.
fn reason(text: String) -> Error {
    Error::General(text)
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let dates = cert::validity(end_entity);
        self.not_after.store(
            dates.map_or(i64::MIN, |(_, not_after)| not_after),
            Ordering::Relaxed,
        );
        if !self.check {
            return Ok(ServerCertVerified::assertion());
        }
        let Some((not_before, not_after)) = dates else {
            return Err(reason("certificate does not parse".into()));
        };
        let now_seconds = now.as_secs() as i64;
        if now_seconds > not_after {
            return Err(reason(format!(
                "certificate expired {}",
                cert::date(not_after)
            )));
        }
        if now_seconds < not_before {
            return Err(reason(format!(
                "certificate not valid before {}",
                cert::date(not_before)
            )));
        }
        let parsed = ParsedCertificate::try_from(end_entity)
            .map_err(|e| reason(format!("certificate does not parse: {e}")))?;
        if verify_server_name(&parsed, server_name).is_err() {
            return Err(reason(format!(
                "certificate does not cover {}",
                server_name.to_str()
            )));
        }
        if let Some(roots) = &self.roots {
            verify_server_cert_signed_by_trust_anchor(
                &parsed,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )
            .map_err(|e| {
                reason(format!(
                    "certificate does not chain to the configured CA ({e})"
                ))
            })?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        match verify_tls13_signature(message, cert, dss, &self.algorithms) {
            // Reporting what is presented (`tlsa`, DANE): a certificate webpki does not read
            // (X.509 version 1) still proves its key by the handshake, with the key our reader
            // finds in it. TLS 1.2 has no such way in rustls.
            Err(error) if !self.check => match cert::fields(cert) {
                Some(fields) => verify_tls13_signature_with_raw_key(
                    message,
                    &SubjectPublicKeyInfoDer::from(fields.spki),
                    dss,
                    &self.algorithms,
                ),
                None => Err(error),
            },
            verified => verified,
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
