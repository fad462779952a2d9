//! RSA key pairs: generation, PEM in and out, signing and verifying.

use std::fmt;

use aws_lc_rs::{
    encoding::{AsDer, Pkcs8V1Der},
    rand::SystemRandom,
    rsa::KeySize,
    signature::{self, KeyPair as _, RsaKeyPair},
};
use base64::{Engine, engine::general_purpose::STANDARD};

/// A key could not be made, read or used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// PEM text without the expected markers or with bad base64.
    #[error("malformed PEM")]
    Pem,
    /// DER that is not an acceptable RSA key (or shorter than 2048 bits).
    #[error("not a usable RSA key")]
    Rejected,
    /// The crypto library failed.
    #[error("crypto failure")]
    Crypto,
}

/// A local actor's key pair, parsed once and kept for signing.
pub struct KeyPair {
    inner: RsaKeyPair,
    public_pem: String,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyPair(..)")
    }
}

impl KeyPair {
    /// Generates a fresh RSA-2048 key pair (100-300 ms of CPU: never in bulk paths).
    pub fn generate() -> Result<Self, KeyError> {
        let inner = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Crypto)?;
        Self::from_inner(inner)
    }

    /// Reads a PKCS#8 PEM private key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_decode(pem, "PRIVATE KEY")?;
        let inner = RsaKeyPair::from_pkcs8(&der).map_err(|_| KeyError::Rejected)?;
        Self::from_inner(inner)
    }

    fn from_inner(inner: RsaKeyPair) -> Result<Self, KeyError> {
        let spki = inner.public_key().as_der().map_err(|_| KeyError::Crypto)?;
        let public_pem = pem_encode(spki.as_ref(), "PUBLIC KEY");
        Ok(Self { inner, public_pem })
    }

    /// The private key as PKCS#8 PEM, for storage.
    pub fn private_pem(&self) -> Result<String, KeyError> {
        let der: Pkcs8V1Der<'static> = self.inner.as_der().map_err(|_| KeyError::Crypto)?;
        Ok(pem_encode(der.as_ref(), "PRIVATE KEY"))
    }

    /// The public key as SubjectPublicKeyInfo PEM (`publicKeyPem`).
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut out = vec![0; self.inner.public_modulus_len()];
        self.inner
            .sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut out)
            .map_err(|_| KeyError::Crypto)?;
        Ok(out)
    }
}

/// A remote (or local) public key, parsed from PEM.
#[derive(Clone, Debug)]
pub struct PublicKey {
    der: Vec<u8>,
}

impl PublicKey {
    /// Reads `BEGIN PUBLIC KEY` (SPKI) or `BEGIN RSA PUBLIC KEY` (PKCS#1) PEM.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_decode(pem, "PUBLIC KEY").or_else(|_| pem_decode(pem, "RSA PUBLIC KEY"))?;
        Ok(Self { der })
    }

    /// Whether `sig` is a valid RSA-SHA256 signature of `message` (keys of 2048-8192 bits).
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.der)
            .verify(message, sig)
            .is_ok()
    }
}

fn pem_encode(der: &[u8], label: &str) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(pem: &str, label: &str) -> Result<Vec<u8>, KeyError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or(KeyError::Pem)? + begin.len();
    let stop = pem[start..].find(&end).ok_or(KeyError::Pem)? + start;
    let body: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(body).map_err(|_| KeyError::Pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_and_verify() {
        let key = KeyPair::generate().unwrap();
        let again = KeyPair::from_pkcs8_pem(&key.private_pem().unwrap()).unwrap();
        assert_eq!(key.public_pem(), again.public_pem());
        let sig = again.sign(b"hello").unwrap();
        let public = PublicKey::from_pem(key.public_pem()).unwrap();
        assert!(public.verify(b"hello", &sig));
        assert!(!public.verify(b"hellO", &sig));
    }

    #[test]
    fn garbage_pem_is_refused() {
        assert_eq!(PublicKey::from_pem("nope").unwrap_err(), KeyError::Pem);
        assert!(KeyPair::from_pkcs8_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err());
    }
}
