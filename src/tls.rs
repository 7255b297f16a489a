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

impl LibpqVerifier {
    /// Where the certificate is not checked (prefer, require), one webpki cannot read (an
    /// X.509 v1 certificate, which OpenSSL servers still use) still proves the handshake: its
    /// signature is verified with the certificate's public key, as libpq's OpenSSL does.
    fn unchecked_certificate(
        &self,
        checked: Result<HandshakeSignatureValid, rustls::Error>,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match checked {
            Err(rustls::Error::InvalidCertificate(_)) if !self.check_chain => {
                let algorithms = provider().signature_verification_algorithms;
                spki::verify_signature(cert, message, dss, &algorithms)
                    .ok_or(rustls::Error::InvalidCertificate(CertificateError::BadSignature))
            }
            other => other,
        }
    }
}

/// A certificate's subject public key, read with no certificate parser's checks (the
/// signature proves only that the server holds its key, which is all sslmode=require asks).
mod spki {
    use rustls::client::danger::HandshakeSignatureValid;
    use rustls::crypto::WebPkiSupportedAlgorithms;
    use rustls::pki_types::CertificateDer;
    use rustls::DigitallySignedStruct;

    /// One DER element: its tag, its contents, and what follows it.
    fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = der.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            (rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)), &rest[n..])
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }

    /// The contents of a certificate's `SubjectPublicKeyInfo`: its algorithm identifier (the
    /// contents of that SEQUENCE) and its key (the BIT STRING's bits).
    pub(super) fn subject_public_key(cert: &[u8]) -> Option<(&[u8], &[u8])> {
        let (_, certificate, _) = element(cert)?;
        let (_, tbs, _) = element(certificate)?;
        let mut rest = tbs;
        // version [0] (absent in v1), serial, signature, issuer, validity, subject.
        let (tag, _, after) = element(rest)?;
        if tag == 0xa0 {
            rest = after;
        }
        for _ in 0..5 {
            rest = element(rest)?.2;
        }
        let (_, info, _) = element(rest)?;
        let (_, algorithm, rest) = element(info)?;
        let (tag, bits, _) = element(rest)?;
        let (&unused, key) = bits.split_first()?;
        (tag == 0x03 && unused == 0).then_some((algorithm, key))
    }

    /// Verifies `dss` over `message` with `cert`'s public key, with one of the algorithms the
    /// provider maps its scheme to.
    pub(super) fn verify_signature(
        cert: &CertificateDer<'_>,
        message: &[u8],
        dss: &DigitallySignedStruct,
        algorithms: &WebPkiSupportedAlgorithms,
    ) -> Option<HandshakeSignatureValid> {
        let (algorithm, key) = subject_public_key(cert.as_ref())?;
        let (_, candidates) = algorithms.mapping.iter().find(|(scheme, _)| *scheme == dss.scheme)?;
        candidates
            .iter()
            .filter(|alg| alg.public_key_alg_id().as_ref() == algorithm)
            .any(|alg| alg.verify_signature(key, message, dss.signature()).is_ok())
            .then(HandshakeSignatureValid::assertion)
    }
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
        let checked = self.webpki.verify_tls12_signature(message, cert, dss);
        self.unchecked_certificate(checked, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let checked = self.webpki.verify_tls13_signature(message, cert, dss);
        self.unchecked_certificate(checked, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::spki::subject_public_key;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    /// An X.509 v1 certificate (no version field), as `openssl x509 -req -signkey` makes one.
    const V1_CERT: &str = "-----BEGIN CERTIFICATE-----\nMIICrzCCAZcCFE6JqukLFgXH8N9HIsRPuh0KXZVKMA0GCSqGSIb3DQEBCwUAMBQx\nEjAQBgNVBAMMCWxvY2FsaG9zdDAeFw0yNjEyMDcwNTQ1MDhaFw0yNjEyMDkwNTQ1\nMDhaMBQxEjAQBgNVBAMMCWxvY2FsaG9zdDCCASIwDQYJKoZIhvcNAQEBBQADggEP\nADCCAQoCggEBAJtjPx8m4P1rDNR6hzlnG2tDqPWqHS26ddCIba+Uj/MycJO1ypX+\nQihyAPNhTZgLdkUJawOYKuJzaOrz/1lhee3AulN6PESr0jXdWZVeZjV/ZPxZRFH5\ni2RVp7HHlrnoEpQvViRVl2IDCpZkfDjUujFtuNlXdZ4V1EpV2n5+rGpKQqCCChmH\nINvvQWPZOUyRXmhZeiSNw+t/Ao7HwbquLwhJGQuLb8aPuSc/FM9qfPTMGNcHm0W0\nuV14vQTxsrSPCIrg/edBlRjLJyr/DFuKu1IbXpZXAI5bqj1nxOZI4AA/L/MI04oL\nXtCb08Va+CwSJuShxKq3wBVgoB3UL8eHnhsCAwEAATANBgkqhkiG9w0BAQsFAAOC\nAQEAK7DuF+u1nkslovA2nhNCpPKY4/pJ82gpPvAkwDCn/MjIU7utk2UZIcdbD7ub\nbzooDaduY/EI4AxNEGIIN7MpW5apbiz8pPD9dxCvlI1yCcA2HNeObPhQZ5ikEkmP\nRckEFYAJktvWxhdrkej7+mrpJV04XzCg8Ckx0AHgRkIdyX2b01NSVb4MV0Z6VlSM\nP3rey3usO/U1XrClQiDxZt00YdBHlDl46krETrDYQJnOSHaCxa6d6D8akHGrYbv2\n5Kby1I8U0yEO/gYqDblv+mJVqNLKlX8DVF1bEO79czCjZMXlvpq8XFrYYcXOAdJ9\nQ33GUisGfViKYBOL0drXIf8VZg==\n-----END CERTIFICATE-----";
    /// Its SubjectPublicKeyInfo, from `openssl x509 -pubkey | openssl pkey -pubin -outform DER`.
    const V1_SPKI_HEX: &str = "30820122300d06092a864886f70d01010105000382010f003082010a02820101009b633f1f26e0fd6b0cd47a8739671b6b43a8f5aa1d2dba75d0886daf948ff3327093b5ca95fe42287200f3614d980b7645096b03982ae27368eaf3ff596179edc0ba537a3c44abd235dd59955e66357f64fc594451f98b6455a7b1c796b9e812942f5624559762030a96647c38d4ba316db8d957759e15d44a55da7e7eac6a4a42a0820a198720dbef4163d9394c915e68597a248dc3eb7f028ec7c1baae2f0849190b8b6fc68fb9273f14cf6a7cf4cc18d7079b45b4b95d78bd04f1b2b48f088ae0fde7419518cb272aff0c5b8abb521b5e9657008e5baa3d67c4e648e0003f2ff308d38a0b5ed09bd3c55af82c1226e4a1c4aab7c01560a01dd42fc7879e1b0203010001";

    #[test]
    fn the_public_key_of_a_v1_certificate() {
        let cert = CertificateDer::from_pem_slice(V1_CERT.as_bytes()).expect("PEM");
        let (algorithm, key) = subject_public_key(cert.as_ref()).expect("a SubjectPublicKeyInfo");
        let spki: Vec<u8> = (0..V1_SPKI_HEX.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&V1_SPKI_HEX[i..i + 2], 16).unwrap_or(0))
            .collect();
        // rsaEncryption with NULL parameters, then the key: the tail of the SPKI's DER.
        assert_eq!(algorithm, &spki[6..6 + 13]);
        assert!(spki.ends_with(key));
        assert_eq!(key.len(), 270);
    }
}
