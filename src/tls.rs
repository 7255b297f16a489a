//! TLS with libpq's sslmode semantics, on rustls (pure Rust, so prebuilt binaries need no OpenSSL).
//!
//! prefer/require encrypt without verifying the certificate; verify-ca checks the chain against
//! the root certificate; verify-full also checks the host name.

use crate::config::{SslMode, SslSettings};
use crate::error::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// PEM text as given, or read from the file it names.
fn pem_bytes(source: &str, what: &str) -> Result<Vec<u8>, Error> {
    if source.trim_start().starts_with("-----BEGIN") {
        return Ok(source.as_bytes().to_vec());
    }
    std::fs::read(source).map_err(|e| Error::Config(format!("Invalid ssl: cannot read {what} file '{source}': {e}")))
}

fn certificates(source: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = pem_bytes(source, what)?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        _ => Err(Error::Config(format!("Invalid ssl: {what} holds no PEM certificate"))),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The connector for `ssl`, or `None` for plain TCP (sslmode=disable).
pub(crate) fn connector(ssl: &SslSettings) -> Result<Option<MakeRustlsConnect>, Error> {
    if ssl.mode == SslMode::Disable {
        return Ok(None);
    }
    let mut roots = RootCertStore::empty();
    match &ssl.root_cert {
        Some(src) => {
            for cert in certificates(src, "root certificate")? {
                roots.add(cert).map_err(|e| Error::Config(format!("Invalid ssl: bad root certificate: {e}")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let roots = Arc::new(roots);
    let tls_err = |e: rustls::Error| Error::Config(format!("Invalid ssl: {e}"));
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().map_err(tls_err)?;
    let builder = match ssl.mode {
        SslMode::VerifyFull => builder.with_root_certificates(roots),
        mode => {
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| Error::Config(format!("Invalid ssl: {e}")))?;
            let check_chain = mode == SslMode::VerifyCa;
            builder.dangerous().with_custom_certificate_verifier(Arc::new(LibpqVerifier { webpki, check_chain }))
        }
    };
    let config = match (&ssl.cert, &ssl.key) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "client certificate")?;
            let key = PrivateKeyDer::from_pem_slice(&pem_bytes(key, "client key")?)
                .map_err(|e| Error::Config(format!("Invalid ssl: client key: {e}")))?;
            builder.with_client_auth_cert(chain, key).map_err(tls_err)?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(Error::Config("Invalid ssl: a client certificate needs both cert and key".into())),
    };
    Ok(Some(MakeRustlsConnect::new(config)))
}

/// prefer/require (no checks) and verify-ca (chain, not host name), as libpq defines them.
#[derive(Debug)]
struct LibpqVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    check_chain: bool,
}

impl ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.check_chain {
            return Ok(ServerCertVerified::assertion());
        }
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
