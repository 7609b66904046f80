//! Paging tokens: RFC 4648 base32 of `<since datetime>,<resume cursor>`.
//!
//! This is the shape of Marketo's legacy tokens, so a token still reads as "activities
//! after this datetime"; clients treat it as opaque. The resume part is the backend's own
//! cursor (empty before the first page), so a token resumes exactly after the last
//! activity it covered.

use crate::api::ApiError;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Longest token accepted, in characters: keeps a decoded cursor small and the URL under 8 KB.
pub(crate) const TOKEN_CHARS_MAX: usize = 2048;

/// Base32 with `=` padding.
pub(crate) fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let symbols = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < symbols {
                let index = ((bits >> (35 - i * 5)) & 31) as usize;
                out.push(char::from(ALPHABET[index]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes base32; padding optional, case-insensitive. `None` if malformed.
pub(crate) fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(trimmed.len() * 5 / 8);
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for c in trimmed.bytes() {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// What a paging token stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PageToken {
    /// Activities at or after this time (Unix ms).
    pub since_ms: i64,
    /// The backend cursor after the last activity already returned, if any.
    pub resume: Option<String>,
}

impl PageToken {
    /// The token text.
    pub(crate) fn encode(&self) -> String {
        let text = format!(
            "{},{}",
            crate::time::format_token(self.since_ms),
            self.resume.as_deref().unwrap_or("")
        );
        base32_encode(text.as_bytes())
    }

    /// Reads a token sent by a client; 1001 if it is not one of ours.
    pub(crate) fn decode(token: &str) -> Result<PageToken, ApiError> {
        let invalid = || ApiError::invalid_value(token, "nextPageToken");
        if token.len() > TOKEN_CHARS_MAX {
            return Err(invalid());
        }
        let bytes = base32_decode(token.trim()).ok_or_else(invalid)?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (since, resume) = text.split_once(',').ok_or_else(invalid)?;
        let since_ms = crate::time::parse_datetime(since).ok_or_else(invalid)?;
        let resume = (!resume.is_empty()).then(|| resume.to_owned());
        Ok(PageToken { since_ms, resume })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "MY======"),
            ("fo", "MZXQ===="),
            ("foo", "MZXW6==="),
            ("foob", "MZXW6YQ="),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI======"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), coded);
            assert_eq!(base32_decode(coded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(base32_decode("mzxw6ytboi"), Some(b"foobar".to_vec()));
        assert_eq!(base32_decode("MZ1W"), None);
    }

    #[test]
    fn reads_marketos_legacy_token() {
        let t = PageToken::decode("GIYDAOBNGEYS2MBWKQYDAORQGA5DAMBOGAYDAKZQGAYDALBQ").unwrap();
        assert_eq!(
            t.since_ms,
            crate::time::parse_datetime("2008-11-06").unwrap()
        );
        assert_eq!(t.resume.as_deref(), Some("0"));
    }

    #[test]
    fn tokens_round_trip() {
        for t in [
            PageToken {
                since_ms: 1_473_936_780_123,
                resume: None,
            },
            PageToken {
                since_ms: -5,
                resume: Some("12:34,x".into()),
            },
        ] {
            assert_eq!(PageToken::decode(&t.encode()).unwrap(), t);
        }
        assert_eq!(
            PageToken::decode("!!!").unwrap_err().code,
            crate::ErrorCode::InvalidValue
        );
        assert!(PageToken::decode(&"A".repeat(TOKEN_CHARS_MAX + 1)).is_err());
    }
}
