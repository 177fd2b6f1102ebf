//! TLS certificate inspection: what certificate Caddy serves for a domain, read from a real
//! handshake over a stream someone else opened.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{AlertDescription, DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::connect::BoxStream;

/// How long a handshake may take before the probe gives up.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The issuer common names of Caddy's local CA (`Caddy Local Authority - ECC Intermediate`).
const CADDY_LOCAL_CA: &str = "Caddy Local Authority";

/// The certificate state of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum CertState {
    /// TLS is off for this proxy (decided by the caller; [`probe`] never returns it).
    Off,
    /// The server has no certificate for the name yet (being obtained, or no route for it).
    Pending { reason: String },
    /// A certificate is served.
    Issued {
        /// The issuer's organization, or its common name (`Let's Encrypt`, `Caddy Local
        /// Authority - ECC Intermediate`).
        issuer: String,
        /// The subject's common name, or its DNS names.
        subject: String,
        /// The end of validity, in Unix seconds.
        not_after: i64,
        /// Issued by Caddy's local CA (not trusted by browsers).
        internal: bool,
    },
    /// The certificate could not be inspected.
    Error { reason: String },
}

impl fmt::Display for CertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertState::Off => f.write_str("tls is off"),
            CertState::Pending { reason } => write!(f, "pending: {reason}"),
            CertState::Issued {
                issuer, not_after, ..
            } => write!(f, "issued by {issuer}, valid until {}", date(*not_after)),
            CertState::Error { reason } => write!(f, "cannot check the certificate: {reason}"),
        }
    }
}

/// Makes a TLS handshake over `stream` with SNI `domain`, accepting whatever certificate is
/// served (this inspects, it does not trust), and reads the leaf: issuer, subject, notAfter,
/// and whether Caddy's local CA issued it.
///
/// A handshake the server ends with an alert (Caddy answers `internal_error` when it has no
/// certificate for the name: not obtained yet, or no route for it) is [`CertState::Pending`];
/// anything else that goes wrong (not TLS, connection closed, no answer within 10 s, a
/// certificate that cannot be parsed) is [`CertState::Error`].
pub async fn probe(stream: BoxStream, domain: &str) -> CertState {
    probe_within(stream, domain, PROBE_TIMEOUT).await
}

async fn probe_within(stream: BoxStream, domain: &str, limit: Duration) -> CertState {
    let domain = domain.trim().trim_end_matches('.');
    let Ok(name) = ServerName::try_from(domain.to_owned()) else {
        return CertState::Error {
            reason: format!(
                "`{domain}` is not a name a client can ask for; probe a concrete host name"
            ),
        };
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = match rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(InspectOnly(provider)))
            .with_no_client_auth(),
        Err(e) => {
            return CertState::Error {
                reason: format!("cannot set up tls: {e}"),
            };
        }
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let mut tls = match tokio::time::timeout(limit, connector.connect(name, stream)).await {
        Err(_) => {
            return CertState::Error {
                reason: format!("no tls handshake within {limit:?}"),
            };
        }
        Ok(Err(e)) => return handshake_failed(domain, &e),
        Ok(Ok(tls)) => tls,
    };
    let state = match tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
        Some(leaf) => inspect(leaf),
        None => CertState::Error {
            reason: "the server sent no certificate".to_owned(),
        },
    };
    // Say goodbye politely; the answer does not matter.
    let _ = tokio::time::timeout(Duration::from_secs(1), tls.shutdown()).await;
    tracing::debug!(domain, %state, "certificate probed");
    state
}

fn handshake_failed(domain: &str, e: &io::Error) -> CertState {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::AlertReceived(alert)) => match alert {
            AlertDescription::InternalError
            | AlertDescription::UnrecognisedName
            | AlertDescription::HandshakeFailure => CertState::Pending {
                reason: format!(
                    "the server has no certificate for `{domain}` (it ended the handshake with {})",
                    alert_name(*alert)
                ),
            },
            other => CertState::Error {
                reason: format!("the server ended the handshake with {}", alert_name(*other)),
            },
        },
        Some(rustls::Error::InvalidMessage(_))
        | Some(rustls::Error::InappropriateMessage { .. }) => CertState::Error {
            reason: "the port does not speak tls (is it the plain http port?)".to_owned(),
        },
        Some(other) => CertState::Error {
            reason: format!("the tls handshake failed: {other}"),
        },
        None if e.kind() == io::ErrorKind::UnexpectedEof => CertState::Error {
            reason: "the server closed the connection during the tls handshake".to_owned(),
        },
        None => CertState::Error {
            reason: format!("the tls handshake failed: {e}"),
        },
    }
}

fn alert_name(alert: AlertDescription) -> String {
    // `InternalError` → `internal_error`, as the TLS spec names alerts.
    let debug = format!("{alert:?}");
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    format!("alert {out}")
}

/// Reads issuer, subject and notAfter from a DER certificate.
fn inspect(der: &CertificateDer<'_>) -> CertState {
    let cert = match X509Certificate::from_der(der.as_ref()) {
        Ok((_, cert)) => cert,
        Err(e) => {
            return CertState::Error {
                reason: format!("the served certificate cannot be parsed: {e}"),
            };
        }
    };
    let first = |mut it: Box<
        dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>> + '_,
    >| { it.find_map(|a| a.as_str().ok().map(str::to_owned)) };
    let issuer_cn = first(Box::new(cert.issuer().iter_common_name()));
    let issuer_o = first(Box::new(cert.issuer().iter_organization()));
    let subject_cn = first(Box::new(cert.subject().iter_common_name()));
    let dns_names: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(s) => Some((*s).to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let internal = issuer_cn
        .as_deref()
        .is_some_and(|cn| cn.starts_with(CADDY_LOCAL_CA));
    CertState::Issued {
        issuer: issuer_o
            .or(issuer_cn)
            .unwrap_or_else(|| "an unnamed issuer".to_owned()),
        subject: subject_cn.unwrap_or_else(|| dns_names.join(", ")),
        not_after: cert.validity().not_after.timestamp(),
        internal,
    }
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
fn date(unix: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = unix.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Accepts any certificate: the probe reports what is served, trust is not its question. The
/// handshake signature is still checked, so the peer does hold the certificate's key.
#[derive(Debug)]
struct InspectOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for InspectOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;
    use tokio::io::AsyncReadExt;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_796_083_200), "2026-12-01");
        assert_eq!(date(-86_400), "1969-12-31");
    }

    #[test]
    fn display_and_serde() {
        let states = [
            CertState::Off,
            CertState::Pending {
                reason: "the server has no certificate for `a.test`".into(),
            },
            CertState::Issued {
                issuer: "Let's Encrypt".into(),
                subject: "www.example.com".into(),
                not_after: 1_796_083_200,
                internal: false,
            },
            CertState::Error {
                reason: "no tls handshake within 10s".into(),
            },
        ];
        let shown: Vec<String> = states.iter().map(|s| s.to_string()).collect();
        expect![[r#"
            [
                "tls is off",
                "pending: the server has no certificate for `a.test`",
                "issued by Let's Encrypt, valid until 2026-12-01",
                "cannot check the certificate: no tls handshake within 10s",
            ]
        "#]]
        .assert_debug_eq(&shown);
        let json = serde_json::to_string(&states).expect("json");
        expect![[r#"[{"state":"off"},{"state":"pending","reason":"the server has no certificate for `a.test`"},{"state":"issued","issuer":"Let's Encrypt","subject":"www.example.com","not_after":1796083200,"internal":false},{"state":"error","reason":"no tls handshake within 10s"}]"#]].assert_eq(&json);
        assert_eq!(
            serde_json::from_str::<Vec<CertState>>(&json).expect("de"),
            states
        );
    }

    /// A server that reads the ClientHello and answers `reply`.
    async fn answering(reply: &'static [u8]) -> BoxStream {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let _ = server.read(&mut buf).await;
            let _ = server.write_all(reply).await;
            let _ = server.shutdown().await;
            // Keep reading until the client goes away.
            while matches!(server.read(&mut buf).await, Ok(n) if n > 0) {}
        });
        Box::new(client)
    }

    #[tokio::test]
    async fn handshake_failures_are_classified() {
        // A fatal internal_error alert, as Caddy sends for a name it has no certificate for.
        let alert: &[u8] = &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50];
        let plain_http: &[u8] = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
        let decode_error: &[u8] = &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32];
        let mut out = Vec::new();
        for reply in [alert, plain_http, decode_error, b""] {
            out.push(probe(answering(reply).await, "a.test").await.to_string());
        }
        out.push(
            probe(answering(b"").await, "*.example.com")
                .await
                .to_string(),
        );
        let (client, _server) = tokio::io::duplex(1024);
        out.push(
            probe_within(Box::new(client), "a.test", Duration::from_millis(50))
                .await
                .to_string(),
        );
        expect![[r#"
            [
                "pending: the server has no certificate for `a.test` (it ended the handshake with alert internal_error)",
                "cannot check the certificate: the port does not speak tls (is it the plain http port?)",
                "cannot check the certificate: the server ended the handshake with alert decode_error",
                "cannot check the certificate: the server closed the connection during the tls handshake",
                "cannot check the certificate: `*.example.com` is not a name a client can ask for; probe a concrete host name",
                "cannot check the certificate: no tls handshake within 50ms",
            ]
        "#]].assert_debug_eq(&out);
    }
}
