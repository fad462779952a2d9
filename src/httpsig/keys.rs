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

    /// Whether `sig` is a valid RSASSA-PSS SHA-512 signature of `message` (RFC 9421
    /// `rsa-pss-sha512`).
    pub fn verify_pss_sha512(&self, message: &[u8], sig: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::RSA_PSS_2048_8192_SHA512, &self.der)
            .verify(message, sig)
            .is_ok()
    }
}

/// An RSA public key from a FEP-521a `publicKeyMultibase` (base58btc `z...` of the multicodec
/// `rsa-pub` prefix and a PKCS#1 `RSAPublicKey`), as `RSA PUBLIC KEY` PEM. `None` for other
/// encodings and key kinds (Ed25519 keys are not used for HTTP signatures here).
pub fn rsa_pem_from_multibase(multibase: &str) -> Option<String> {
    // The multicodec code 0x1205 as an unsigned varint.
    const RSA_PUB: [u8; 2] = [0x85, 0x24];
    let bytes = base58btc_decode(multibase.strip_prefix('z')?)?;
    let der = bytes.strip_prefix(&RSA_PUB[..])?;
    (!der.is_empty()).then(|| pem_encode(der, "RSA PUBLIC KEY"))
}

/// The Bitcoin base58 alphabet (multibase `z`).
const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Decodes base58 with the Bitcoin alphabet; `None` on any other character or above 16 KiB.
fn base58btc_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() > 16 * 1024 {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(text.len());
    for c in text.bytes() {
        let mut carry = BASE58.iter().position(|&a| a == c)? as u32;
        for byte in out.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = text.bytes().take_while(|&c| c == b'1').count();
    let mut result = vec![0; zeros];
    result.extend(out.into_iter().skip_while(|&b| b == 0));
    Some(result)
}

/// Encodes base58 with the Bitcoin alphabet (the inverse of [`base58btc_decode`], for tests
/// and peers that publish Multikeys).
pub fn base58btc_encode(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = Vec::new();
    for &byte in bytes {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    let mut out = "1".repeat(zeros);
    out.extend(digits.iter().rev().map(|&d| BASE58[d as usize] as char));
    out
}

/// The PKCS#1 `RSAPublicKey` inside an SPKI PEM, as a FEP-521a `publicKeyMultibase`.
pub fn multibase_from_spki_pem(pem: &str) -> Result<String, KeyError> {
    let der = pem_decode(pem, "PUBLIC KEY")?;
    // SPKI for RSA: SEQUENCE { AlgorithmIdentifier (15 bytes), BIT STRING { 0x00, RSAPublicKey } }.
    let (_, inner) = der_element(&der).ok_or(KeyError::Pem)?;
    let (rest, _algorithm) = der_element(inner).ok_or(KeyError::Pem)?;
    let (_, bits) = der_element(rest).ok_or(KeyError::Pem)?;
    let pkcs1 = bits.get(1..).ok_or(KeyError::Pem)?;
    let mut bytes = vec![0x85, 0x24];
    bytes.extend_from_slice(pkcs1);
    Ok(format!("z{}", base58btc_encode(&bytes)))
}

/// The contents of the DER element at the start of `der`, and what follows it.
fn der_element(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (header, len) = match *der.get(1)? {
        l if l < 0x80 => (2, l as usize),
        0x81 => (3, *der.get(2)? as usize),
        0x82 => (4, (*der.get(2)? as usize) << 8 | *der.get(3)? as usize),
        _ => return None,
    };
    let body = der.get(header..header + len)?;
    Some((der.get(header + len..)?, body))
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
    fn multikeys_carry_rsa_keys_both_ways() {
        let key = KeyPair::generate().unwrap();
        let multibase = multibase_from_spki_pem(key.public_pem()).unwrap();
        assert!(multibase.starts_with("z"));
        let pem = rsa_pem_from_multibase(&multibase).unwrap();
        let public = PublicKey::from_pem(&pem).unwrap();
        assert!(public.verify(b"hello", &key.sign(b"hello").unwrap()));
        // An Ed25519 Multikey (prefix 0xed01), and text that is not base58, are not RSA keys.
        assert_eq!(
            rsa_pem_from_multibase("z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"),
            None
        );
        assert_eq!(rsa_pem_from_multibase("z0OIl"), None);
        assert_eq!(base58btc_decode("1112"), Some(vec![0, 0, 0, 1]));
        assert_eq!(base58btc_encode(&[0, 0, 0, 1]), "1112");
    }

    #[test]
    fn garbage_pem_is_refused() {
        assert_eq!(PublicKey::from_pem("nope").unwrap_err(), KeyError::Pem);
        assert!(KeyPair::from_pkcs8_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err());
    }
}
