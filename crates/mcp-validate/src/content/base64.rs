//! Decoded size of standard base64 (RFC 4648 §4, the alphabet MCP uses for `data` and
//! `blob`), computed without decoding.

/// Why a string is not valid base64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base64Error {
    /// The length cannot be the encoding of whole bytes (one character left over).
    #[error("length is not a valid base64 length")]
    Length,
    /// A character outside `A-Z a-z 0-9 + /` (whitespace and URL-safe `-`/`_` included).
    #[error("character outside the standard base64 alphabet at offset {0}")]
    Character(usize),
    /// `=` somewhere other than the last one or two positions of a multiple-of-4 length.
    #[error("misplaced '=' padding")]
    Padding,
    /// The last character carries bits that no encoder would set (non-canonical encoding).
    #[error("non-zero trailing bits")]
    TrailingBits,
}

/// Number of bytes `s` decodes to, read from its length and padding only. Exact for valid
/// input; use [`decoded_len`] to also validate.
pub fn decoded_len_from_length(s: &str) -> u64 {
    let bytes = s.as_bytes();
    let pad = bytes.iter().rev().take(2).take_while(|b| **b == b'=').count();
    let data = (bytes.len() - pad) as u64;
    data / 4 * 3 + (data % 4) * 3 / 4
}

/// Number of bytes `s` decodes to, after checking that it is canonical standard base64
/// (padded, or unpadded with a valid length). Nothing is decoded or allocated.
///
/// ```
/// use mcp_validate::content::decoded_len;
/// assert_eq!(decoded_len("aGVsbG8="), Ok(5));
/// assert_eq!(decoded_len("aGVsbG8"), Ok(5));
/// assert!(decoded_len("aGVsbG8*").is_err());
/// ```
///
/// # Errors
/// [`Base64Error`] when `s` is not valid standard base64.
pub fn decoded_len(s: &str) -> Result<u64, Base64Error> {
    let bytes = s.as_bytes();
    let pad = bytes.iter().rev().take(2).take_while(|b| **b == b'=').count();
    let data = &bytes[..bytes.len() - pad];
    if data.len() % 4 == 1 || (pad > 0 && !bytes.len().is_multiple_of(4)) {
        return Err(if pad > 0 { Base64Error::Padding } else { Base64Error::Length });
    }
    // Branch-free OR over the table in chunks; locate the culprit only on failure.
    let any_invalid =
        data.chunks(64).any(|chunk| chunk.iter().fold(0u8, |acc, b| acc | (SEXTETS[*b as usize] & 0x80)) != 0);
    if let Some(i) = any_invalid.then(|| data.iter().position(|b| sextet(*b).is_none())).flatten() {
        return Err(if data[i] == b'=' { Base64Error::Padding } else { Base64Error::Character(i) });
    }
    // The unused low bits of the last character must be zero (2 chars: 4 bits, 3 chars: 2 bits).
    let unused_mask = match data.len() % 4 {
        2 => 0b1111,
        3 => 0b11,
        _ => 0,
    };
    if let Some(last) = data.last().and_then(|b| sextet(*b))
        && last & unused_mask != 0
    {
        return Err(Base64Error::TrailingBits);
    }
    Ok(decoded_len_from_length(s))
}

/// Sextet value of each byte of the standard alphabet; `INVALID` for everything else.
const INVALID: u8 = 0xFF;
const SEXTETS: [u8; 256] = {
    let mut table = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < alphabet.len() {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

#[inline]
fn sextet(b: u8) -> Option<u8> {
    let v = SEXTETS[b as usize];
    (v != INVALID).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

    #[test]
    fn matches_real_encoder_at_every_small_length() {
        for n in 0..200usize {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let padded = STANDARD.encode(&data);
            let unpadded = STANDARD_NO_PAD.encode(&data);
            assert_eq!(decoded_len(&padded), Ok(n as u64), "padded {n}");
            assert_eq!(decoded_len(&unpadded), Ok(n as u64), "unpadded {n}");
            assert_eq!(decoded_len_from_length(&padded), n as u64);
        }
    }

    #[test]
    fn rejects_invalid() {
        assert_eq!(decoded_len("A"), Err(Base64Error::Length));
        assert_eq!(decoded_len("AAAAA"), Err(Base64Error::Length));
        assert_eq!(decoded_len("AA=A"), Err(Base64Error::Padding));
        assert_eq!(decoded_len("AA="), Err(Base64Error::Padding));
        assert_eq!(decoded_len("A==="), Err(Base64Error::Padding));
        assert_eq!(decoded_len("AAA\n"), Err(Base64Error::Character(3)));
        assert_eq!(decoded_len("AA-_"), Err(Base64Error::Character(2)));
        assert_eq!(decoded_len("AB=="), Err(Base64Error::TrailingBits));
        assert_eq!(decoded_len("AAB="), Err(Base64Error::TrailingBits));
        assert_eq!(decoded_len(""), Ok(0));
        // Everything the real decoder refuses, we refuse.
        for bad in ["AB==", "AAB=", "A===", "=AAA", "AA=A", "AAA"] {
            let real = STANDARD.decode(bad).is_ok() || STANDARD_NO_PAD.decode(bad).is_ok();
            assert_eq!(decoded_len(bad).is_ok(), real, "{bad}");
        }
    }
}
