//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, six digits), the form
//! every authenticator app reads, and the base32 their secrets are written in.

use aws_lc_rs::hmac;

/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Steps of clock drift accepted either way.
pub const DRIFT_STEPS: i64 = 1;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Base32 (RFC 4648, no padding).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32, ignoring spaces, padding and case.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = ALPHABET.iter().position(|a| *a as char == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The six-digit code of a step.
pub fn code_at(secret: &[u8], step: i64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let h = tag.as_ref();
    let offset = (h[h.len() - 1] & 0x0f) as usize;
    let value = u32::from_be_bytes([h[offset] & 0x7f, h[offset + 1], h[offset + 2], h[offset + 3]]);
    value % 1_000_000
}

/// The step a code matches at `now_ms` (within the drift), if any.
pub fn matching_step(secret: &[u8], code: &str, now_ms: i64) -> Option<i64> {
    let code: u32 = code.trim().parse().ok().filter(|_| code.trim().len() == 6)?;
    let now = now_ms.div_euclid(1000).div_euclid(STEP_SECONDS);
    (now - DRIFT_STEPS..=now + DRIFT_STEPS).find(|s| code_at(secret, *s) == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_test_vectors() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", last six digits.
        let secret = b"12345678901234567890";
        for (t, code) in [
            (59, 287_082),
            (1_111_111_109, 81_804),
            (1_234_567_890, 5_924),
            (2_000_000_000, 279_037),
        ] {
            assert_eq!(code_at(secret, t / 30), code, "t={t}");
        }
    }

    #[test]
    fn base32_round_trips_and_codes_match_within_drift() {
        let secret = [7u8, 200, 13, 99, 1, 2, 3, 4, 5, 6];
        assert_eq!(base32_decode(&base32_encode(&secret)).unwrap(), secret);
        let now = 1_800_000_000_000;
        let code = format!("{:06}", code_at(&secret, now / 1000 / 30));
        assert!(matching_step(&secret, &code, now).is_some());
        assert!(
            matching_step(&secret, &code, now + 31_000).is_some(),
            "one step of drift"
        );
        assert!(matching_step(&secret, &code, now + 120_000).is_none());
        assert!(matching_step(&secret, "12345", now).is_none());
    }
}
