//! The integer and string encodings of bincode 2's `config::standard()`, written by hand
//! for activity records, the hottest bytes in actlog (every append encodes one, every
//! index pass and scan decodes one).
//!
//! An unsigned integer below 251 is one byte; otherwise a marker byte (251, 252, 253)
//! says that a little-endian `u16`, `u32` or `u64` follows. Signed integers are zigzag
//! encoded first. A string is its byte length as such an integer, then its UTF-8.

/// Appends `v` as a varint.
pub(super) fn put_u64(out: &mut Vec<u8>, v: u64) {
    if v < 251 {
        out.push(v as u8);
    } else if v <= u64::from(u16::MAX) {
        out.push(251);
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v <= u64::from(u32::MAX) {
        out.push(252);
        out.extend_from_slice(&(v as u32).to_le_bytes());
    } else {
        out.push(253);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends `v` zigzag encoded as a varint.
pub(super) fn put_i64(out: &mut Vec<u8>, v: i64) {
    put_u64(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Appends `v` zigzag encoded as a varint (zigzag over 32 bits, as bincode does).
pub(super) fn put_i32(out: &mut Vec<u8>, v: i32) {
    put_u64(out, u64::from(((v << 1) ^ (v >> 31)) as u32));
}

/// Appends `s` as its length and bytes.
pub(super) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u64(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Reads the encodings above from a byte slice; every read checks its bounds.
///
/// It holds the bytes not read yet, so each read splits them once (the bounds check
/// and the advance are one operation) rather than indexing from a position.
#[derive(Clone, Debug)]
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

const END: &str = "unexpected end of record";

impl<'a> Reader<'a> {
    #[inline(always)]
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// Bytes not read yet.
    #[inline(always)]
    pub(super) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// The bytes not read yet.
    #[inline(always)]
    pub(super) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    #[inline(always)]
    pub(super) fn u8(&mut self) -> Result<u8, &'static str> {
        let (&b, rest) = self.rest.split_first().ok_or(END)?;
        self.rest = rest;
        Ok(b)
    }

    #[inline(always)]
    pub(super) fn take(&mut self, len: usize) -> Result<&'a [u8], &'static str> {
        let (s, rest) = self.rest.split_at_checked(len).ok_or(END)?;
        self.rest = rest;
        Ok(s)
    }

    #[inline(always)]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let (a, rest) = self.rest.split_first_chunk::<N>().ok_or(END)?;
        self.rest = rest;
        Ok(*a)
    }

    /// A varint, read with one bounds check per width rather than one per byte: the
    /// wide forms are common too (person ids, type ids, times).
    #[inline(always)]
    pub(super) fn u64(&mut self) -> Result<u64, &'static str> {
        let (value, rest) = match *self.rest {
            [b @ 0..=250, ref rest @ ..] => (u64::from(b), rest),
            [251, a, b, ref rest @ ..] => (u64::from(u16::from_le_bytes([a, b])), rest),
            [252, a, b, c, d, ref rest @ ..] => (u64::from(u32::from_le_bytes([a, b, c, d])), rest),
            [253, a, b, c, d, e, f, g, h, ref rest @ ..] => {
                (u64::from_le_bytes([a, b, c, d, e, f, g, h]), rest)
            }
            [] | [251..=253, ..] => return Err(END),
            _ => return Err("integer wider than 64 bits"),
        };
        self.rest = rest;
        Ok(value)
    }

    #[inline(always)]
    pub(super) fn u32(&mut self) -> Result<u32, &'static str> {
        u32::try_from(self.u64()?).map_err(|_| "integer wider than 32 bits")
    }

    #[inline(always)]
    pub(super) fn u16(&mut self) -> Result<u16, &'static str> {
        u16::try_from(self.u64()?).map_err(|_| "integer wider than 16 bits")
    }

    #[inline(always)]
    pub(super) fn i64(&mut self) -> Result<i64, &'static str> {
        let n = self.u64()?;
        Ok((n >> 1) as i64 ^ -((n & 1) as i64))
    }

    #[inline(always)]
    pub(super) fn i32(&mut self) -> Result<i32, &'static str> {
        let n = self.u32()?;
        Ok((n >> 1) as i32 ^ -((n & 1) as i32))
    }

    #[inline(always)]
    pub(super) fn f64(&mut self) -> Result<f64, &'static str> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    #[inline(always)]
    pub(super) fn bool(&mut self) -> Result<bool, &'static str> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err("invalid boolean"),
        }
    }

    #[inline(always)]
    pub(super) fn str(&mut self) -> Result<&'a str, &'static str> {
        let len = usize::try_from(self.u64()?).map_err(|_| "string longer than memory")?;
        let bytes = self.take(len)?;
        // Most stored strings are short and ASCII, for which the word-wise ASCII test
        // costs a fraction of the general UTF-8 validation.
        if bytes.is_ascii() {
            // SAFETY: every byte is below 0x80, and a sequence of ASCII bytes is UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).map_err(|_| "string is not UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    fn bincode_bytes<T: Serialize>(v: &T) -> Vec<u8> {
        bincode::serde::encode_to_vec(v, bincode::config::standard()).unwrap()
    }

    #[test]
    fn integers_match_bincode_at_every_width_boundary() {
        for v in [
            0u64,
            1,
            250,
            251,
            252,
            65_535,
            65_536,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_u64(&mut out, v);
            assert_eq!(out, bincode_bytes(&v), "u64 {v}");
            assert_eq!(Reader::new(&out).u64().unwrap(), v);
        }
        for v in [0i64, -1, 1, -126, 125, -126_000, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            put_i64(&mut out, v);
            assert_eq!(out, bincode_bytes(&v), "i64 {v}");
            assert_eq!(Reader::new(&out).i64().unwrap(), v);
        }
        for v in [0i32, -1, 1, -126, 125, -70_000, i32::MIN, i32::MAX] {
            let mut out = Vec::new();
            put_i32(&mut out, v);
            assert_eq!(out, bincode_bytes(&v), "i32 {v}");
            assert_eq!(Reader::new(&out).i32().unwrap(), v);
        }
    }

    #[test]
    fn reads_refuse_short_and_oversized_input() {
        assert!(Reader::new(&[]).u8().is_err());
        assert!(Reader::new(&[251, 1]).u64().is_err());
        assert!(Reader::new(&[254]).u64().is_err());
        assert!(Reader::new(&[253, 0, 0, 0, 0, 1, 0, 0, 0]).u32().is_err());
        assert!(Reader::new(&[252, 0, 0, 1, 0]).u16().is_err());
        assert!(Reader::new(&[2]).bool().is_err());
        assert!(Reader::new(&[3, b'a']).str().is_err());
        assert!(Reader::new(&[1, 0xff]).str().is_err());
        assert_eq!(Reader::new(&[2, b'o', b'k']).str().unwrap(), "ok");
        assert_eq!(Reader::new(&[3, b'a', 0xc3, 0xa9]).str().unwrap(), "aé");
        assert!(
            Reader::new(&[9, b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h', 0x80])
                .str()
                .is_err()
        );
        assert!(Reader::new(&[2, 0xc3, b'a']).str().is_err());
    }
}
