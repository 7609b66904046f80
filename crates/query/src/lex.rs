//! The lexer: text to tokens with their columns.

use crate::error::{Error, Result};
use crate::time::{Duration, DurationUnit, Time};

/// One token of the text form.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// An identifier or keyword; keywords are told apart by the parser, ignoring case.
    Ident(String),
    /// A quoted string, escapes resolved.
    Str(String),
    /// An integer, wide enough for both `u64` person ids and negative `i64` values.
    Int(i128),
    Float(f64),
    Time(Time),
    Duration(Duration),
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LParen,
    RParen,
    Comma,
    Dot,
    Eof,
}

impl Tok {
    /// How the token is shown in a syntax error.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Int(v) => format!("`{v}`"),
            Tok::Float(v) => format!("`{v:?}`"),
            Tok::Time(t) => format!("`{t}`"),
            Tok::Duration(d) => format!("`{d}`"),
            Tok::Eq => "`=`".into(),
            Tok::Ne => "`!=`".into(),
            Tok::Lt => "`<`".into(),
            Tok::Le => "`<=`".into(),
            Tok::Gt => "`>`".into(),
            Tok::Ge => "`>=`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::Dot => "`.`".into(),
            Tok::Eof => "end of input".into(),
        }
    }
}

/// A token and the 1-based character column where it starts.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub column: usize,
}

/// Splits `text` into tokens, ending with [`Tok::Eof`].
///
/// Reads the text's bytes, not a vector of its chars: every token but a string is
/// ASCII, and a query is lexed each time it runs. Columns count chars, as editors do.
pub(crate) fn lex(text: &str) -> Result<Vec<Token>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 4 + 2);
    let mut columns = Columns::new(text);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let c = if b.is_ascii() {
            char::from(b)
        } else {
            char_at(text, i)
        };
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let column = columns.at(i);
        let next = bytes.get(i + 1).copied();
        let (tok, len) = match b {
            b'=' => (Tok::Eq, 1),
            b'!' if next == Some(b'=') => (Tok::Ne, 2),
            b'<' if next == Some(b'=') => (Tok::Le, 2),
            b'<' => (Tok::Lt, 1),
            b'>' if next == Some(b'=') => (Tok::Ge, 2),
            b'>' => (Tok::Gt, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b',' => (Tok::Comma, 1),
            b'.' => (Tok::Dot, 1),
            b'"' | b'\'' => lex_string(text, i, column, &mut columns)?,
            b if b.is_ascii_digit() => lex_number(bytes, i, column)?,
            b'-' if next.is_some_and(|n| n.is_ascii_digit()) => lex_number(bytes, i, column)?,
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let len = ident_len(&bytes[i..]);
                (Tok::Ident(text[i..i + len].to_owned()), len)
            }
            _ => {
                return Err(Error::Syntax {
                    column,
                    expected: "a token".into(),
                    found: format!("character {c:?}"),
                })
            }
        };
        debug_assert!(len > 0);
        out.push(Token { tok, column });
        i += len;
    }
    out.push(Token {
        tok: Tok::Eof,
        column: columns.at(bytes.len()),
    });
    Ok(out)
}

/// The char columns of byte positions met in increasing order: counting the chars
/// between one position and the next costs the text's length once in all.
struct Columns<'a> {
    text: &'a str,
    byte: usize,
    column: usize,
}

impl<'a> Columns<'a> {
    fn new(text: &'a str) -> Self {
        Columns {
            text,
            byte: 0,
            column: 1,
        }
    }

    /// The 1-based char column of byte `at`, a char boundary at or after the last asked.
    fn at(&mut self, at: usize) -> usize {
        debug_assert!(at >= self.byte);
        self.column += self
            .text
            .get(self.byte..at)
            .map_or(0, |s| s.chars().count());
        self.byte = at;
        self.column
    }
}

/// The char starting at byte `i` of `text` (a char boundary).
fn char_at(text: &str, i: usize) -> char {
    text.get(i..)
        .and_then(|s| s.chars().next())
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Bytes of the identifier (ASCII letters, digits, `_`) that `bytes` starts with.
fn ident_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count()
}

fn invalid(column: usize, what: impl Into<String>) -> Error {
    Error::InvalidLiteral {
        column,
        what: what.into(),
    }
}

/// The string whose opening quote is at byte `start` (char column `column`), escapes
/// resolved, and its length in bytes.
fn lex_string(
    text: &str,
    start: usize,
    column: usize,
    columns: &mut Columns<'_>,
) -> Result<(Tok, usize)> {
    let bytes = text.as_bytes();
    let quote = char::from(bytes[start]);
    let mut s = String::new();
    let mut i = start + 1;
    loop {
        // Copy the run of plain chars up to the next quote or backslash at once.
        let run = bytes[i..]
            .iter()
            .position(|&b| b == b'\\' || char::from(b) == quote)
            .unwrap_or(bytes.len() - i);
        s.push_str(&text[i..i + run]);
        i += run;
        let Some(&b) = bytes.get(i) else {
            return Err(Error::Syntax {
                column: columns.at(bytes.len()),
                expected: format!("closing `{quote}` of the string at column {column}"),
                found: "end of input".into(),
            });
        };
        if char::from(b) == quote {
            return Ok((Tok::Str(s), i + 1 - start));
        }
        // A backslash.
        let escape_column = columns.at(i);
        i += 1;
        let Some(&e) = bytes.get(i) else { continue };
        if !e.is_ascii() {
            let other = char_at(text, i);
            return Err(invalid(
                escape_column,
                format!("unknown escape `\\{other}`"),
            ));
        }
        i += 1;
        match e {
            b'"' | b'\'' | b'\\' => s.push(char::from(e)),
            b'n' => s.push('\n'),
            b't' => s.push('\t'),
            b'r' => s.push('\r'),
            b'u' => {
                // `\u{HEX}`, as Rust writes it.
                let close = bytes[i..].iter().position(|&b| b == b'}');
                let decoded = match (bytes.get(i), close) {
                    (Some(b'{'), Some(close)) => {
                        let hex = &text[i + 1..i + close];
                        i += close + 1;
                        u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                    }
                    _ => None,
                };
                match decoded {
                    Some(c) => s.push(c),
                    None => return Err(invalid(escape_column, "bad `\\u{HEX}` escape")),
                }
            }
            other => {
                return Err(invalid(
                    escape_column,
                    format!("unknown escape `\\{}`", char::from(other)),
                ));
            }
        }
    }
}

/// The number, time or duration at byte `start` (char column `column`; all of its
/// bytes are ASCII), and its length in bytes.
fn lex_number(bytes: &[u8], start: usize, column: usize) -> Result<(Tok, usize)> {
    let negative = bytes[start] == b'-';
    let digits_start = start + usize::from(negative);
    let digit_count = bytes[digits_start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let mut end = digits_start + digit_count;
    let at = |k: usize| bytes.get(k).copied();
    let is_digit = |k: usize| at(k).is_some_and(|b| b.is_ascii_digit());
    // Every byte taken below is ASCII, so these slices are whole chars.
    let ascii = |from: usize, to: usize| String::from_utf8_lossy(&bytes[from..to]).into_owned();

    // `2026-01-01` or `2026-02-01T12:00:00Z`: four digits, a dash, a digit.
    if !negative && digit_count == 4 && at(end) == Some(b'-') && is_digit(end + 1) {
        let len = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'.' | b'+'))
            .count();
        let time = ascii(start, start + len)
            .parse::<Time>()
            .map_err(|e| invalid(column, e))?;
        return Ok((Tok::Time(time), len));
    }

    let mut is_float = false;
    if at(end) == Some(b'.') && is_digit(end + 1) {
        is_float = true;
        end += 1;
        while is_digit(end) {
            end += 1;
        }
    }
    if matches!(at(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(at(end + 1), Some(b'+' | b'-')));
        if is_digit(end + 1 + sign) {
            is_float = true;
            end += 1 + sign;
            while is_digit(end) {
                end += 1;
            }
        }
    }
    let text = ascii(start, end);

    // A count followed by a unit letter: `30d`.
    if let Some(c) = at(end).filter(|b| b.is_ascii_alphanumeric() || *b == b'_') {
        let c = char::from(c);
        let suffix_len = ident_len(&bytes[end..]);
        let unit = (suffix_len == 1 && !negative && !is_float)
            .then(|| DurationUnit::from_suffix(c))
            .flatten();
        let Some(unit) = unit else {
            let suffix = ascii(end, end + suffix_len);
            return Err(invalid(
                column,
                format!("`{text}{suffix}`: a duration is a count and one of w, d, h, m, s"),
            ));
        };
        let amount = text
            .parse()
            .map_err(|_| invalid(column, format!("duration `{text}{c}` is too long")))?;
        return Ok((Tok::Duration(Duration { amount, unit }), end + 1 - start));
    }

    let tok = if is_float {
        let v: f64 = text
            .parse()
            .map_err(|_| invalid(column, format!("`{text}` is not a number")))?;
        if !v.is_finite() {
            return Err(invalid(column, format!("`{text}` is out of range")));
        }
        Tok::Float(v)
    } else {
        let v: i128 = text
            .parse()
            .ok()
            .filter(|v: &i128| i64::try_from(*v).is_ok() || u64::try_from(*v).is_ok())
            .ok_or_else(|| invalid(column, format!("integer `{text}` is out of range")))?;
        Tok::Int(v)
    };
    Ok((tok, end - start))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;

    /// The lexer as it was first written, over a vector of chars: the model the
    /// byte-reading lexer must agree with, token for token and error for error.
    mod model {
        use super::super::{Tok, Token};
        use crate::error::{Error, Result};
        use crate::time::{Duration, DurationUnit, Time};

        pub(super) fn lex(text: &str) -> Result<Vec<Token>> {
            let chars: Vec<char> = text.chars().collect();
            let mut out = Vec::new();
            let mut i = 0;
            while i < chars.len() {
                let c = chars[i];
                let column = i + 1;
                if c.is_whitespace() {
                    i += 1;
                    continue;
                }
                let next = chars.get(i + 1).copied();
                let (tok, len) = match c {
                    '=' => (Tok::Eq, 1),
                    '!' if next == Some('=') => (Tok::Ne, 2),
                    '<' if next == Some('=') => (Tok::Le, 2),
                    '<' => (Tok::Lt, 1),
                    '>' if next == Some('=') => (Tok::Ge, 2),
                    '>' => (Tok::Gt, 1),
                    '(' => (Tok::LParen, 1),
                    ')' => (Tok::RParen, 1),
                    ',' => (Tok::Comma, 1),
                    '.' => (Tok::Dot, 1),
                    '"' | '\'' => lex_string(&chars, i)?,
                    c if c.is_ascii_digit() => lex_number(&chars, i)?,
                    '-' if next.is_some_and(|n| n.is_ascii_digit()) => lex_number(&chars, i)?,
                    c if c.is_ascii_alphabetic() || c == '_' => {
                        let len = chars[i..]
                            .iter()
                            .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                            .count();
                        (Tok::Ident(chars[i..i + len].iter().collect()), len)
                    }
                    c => {
                        return Err(Error::Syntax {
                            column,
                            expected: "a token".into(),
                            found: format!("character {c:?}"),
                        })
                    }
                };
                debug_assert!(len > 0);
                out.push(Token { tok, column });
                i += len;
            }
            out.push(Token {
                tok: Tok::Eof,
                column: chars.len() + 1,
            });
            Ok(out)
        }

        fn invalid(column: usize, what: impl Into<String>) -> Error {
            Error::InvalidLiteral {
                column,
                what: what.into(),
            }
        }

        fn lex_string(chars: &[char], start: usize) -> Result<(Tok, usize)> {
            let quote = chars[start];
            let mut s = String::new();
            let mut i = start + 1;
            loop {
                let Some(&c) = chars.get(i) else {
                    return Err(Error::Syntax {
                        column: chars.len() + 1,
                        expected: format!(
                            "closing `{quote}` of the string at column {}",
                            start + 1
                        ),
                        found: "end of input".into(),
                    });
                };
                i += 1;
                if c == quote {
                    return Ok((Tok::Str(s), i - start));
                }
                if c != '\\' {
                    s.push(c);
                    continue;
                }
                let escape_column = i;
                let Some(&e) = chars.get(i) else { continue };
                i += 1;
                match e {
                    '"' | '\'' | '\\' => s.push(e),
                    'n' => s.push('\n'),
                    't' => s.push('\t'),
                    'r' => s.push('\r'),
                    'u' => {
                        // `\u{HEX}`, as Rust writes it.
                        let close = chars[i..].iter().position(|c| *c == '}');
                        let decoded = match (chars.get(i), close) {
                            (Some('{'), Some(close)) => {
                                let hex: String = chars[i + 1..i + close].iter().collect();
                                i += close + 1;
                                u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                            }
                            _ => None,
                        };
                        match decoded {
                            Some(c) => s.push(c),
                            None => return Err(invalid(escape_column, "bad `\\u{HEX}` escape")),
                        }
                    }
                    other => {
                        return Err(invalid(
                            escape_column,
                            format!("unknown escape `\\{other}`"),
                        ));
                    }
                }
            }
        }

        fn lex_number(chars: &[char], start: usize) -> Result<(Tok, usize)> {
            let column = start + 1;
            let negative = chars[start] == '-';
            let digits_start = start + usize::from(negative);
            let digit_count = chars[digits_start..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            let mut end = digits_start + digit_count;
            let at = |k: usize| chars.get(k).copied();
            let is_digit = |k: usize| at(k).is_some_and(|c| c.is_ascii_digit());

            // `2026-01-01` or `2026-02-01T12:00:00Z`: four digits, a dash, a digit.
            if !negative && digit_count == 4 && at(end) == Some('-') && is_digit(end + 1) {
                let len = chars[start..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '+'))
                    .count();
                let text: String = chars[start..start + len].iter().collect();
                let time = text.parse::<Time>().map_err(|e| invalid(column, e))?;
                return Ok((Tok::Time(time), len));
            }

            let mut is_float = false;
            if at(end) == Some('.') && is_digit(end + 1) {
                is_float = true;
                end += 1;
                while is_digit(end) {
                    end += 1;
                }
            }
            if matches!(at(end), Some('e' | 'E')) {
                let sign = usize::from(matches!(at(end + 1), Some('+' | '-')));
                if is_digit(end + 1 + sign) {
                    is_float = true;
                    end += 1 + sign;
                    while is_digit(end) {
                        end += 1;
                    }
                }
            }
            let text: String = chars[start..end].iter().collect();

            // A count followed by a unit letter: `30d`.
            if let Some(c) = at(end).filter(|c| c.is_ascii_alphanumeric() || *c == '_') {
                let suffix_len = chars[end..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .count();
                let unit = (suffix_len == 1 && !negative && !is_float)
                    .then(|| DurationUnit::from_suffix(c))
                    .flatten();
                let Some(unit) = unit else {
                    let suffix: String = chars[end..end + suffix_len].iter().collect();
                    return Err(invalid(
                        column,
                        format!("`{text}{suffix}`: a duration is a count and one of w, d, h, m, s"),
                    ));
                };
                let amount = text
                    .parse()
                    .map_err(|_| invalid(column, format!("duration `{text}{c}` is too long")))?;
                return Ok((Tok::Duration(Duration { amount, unit }), end + 1 - start));
            }

            let tok = if is_float {
                let v: f64 = text
                    .parse()
                    .map_err(|_| invalid(column, format!("`{text}` is not a number")))?;
                if !v.is_finite() {
                    return Err(invalid(column, format!("`{text}` is out of range")));
                }
                Tok::Float(v)
            } else {
                let v: i128 = text
                    .parse()
                    .ok()
                    .filter(|v: &i128| i64::try_from(*v).is_ok() || u64::try_from(*v).is_ok())
                    .ok_or_else(|| invalid(column, format!("integer `{text}` is out of range")))?;
                Tok::Int(v)
            };
            Ok((tok, end - start))
        }
    }

    fn same(text: &str) -> std::result::Result<(), TestCaseError> {
        let ours = lex(text).map(|ts| {
            ts.into_iter()
                .map(|t| (t.tok, t.column))
                .collect::<Vec<_>>()
        });
        let theirs = model::lex(text).map(|ts| {
            ts.into_iter()
                .map(|t| (t.tok, t.column))
                .collect::<Vec<_>>()
        });
        prop_assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{:?}", text);
        Ok(())
    }

    #[test]
    fn lexes_as_the_model_does_on_chosen_texts() {
        for text in [
            "",
            "person = 42 and type in (1, 2) and occurred in last 30d",
            "occurred between 2026-01-01 and 2026-02-01T12:00:00Z",
            "attr.x >= -1.5e3 or attr.y != 'it\\'s' or primary starts_with \"é\\u{e9}\\n\"",
            "attr.x = \"é\" é",
            "\"unterminated \\",
            "'\\u{zz}'",
            "'\\é'",
            "30x 12.5d 99999999999999999999999 1e999 2026-13-01",
            "\u{a0}person\u{2003}=\u{b}1",
        ] {
            same(text).unwrap();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn lexes_as_the_model_does(
            parts in prop::collection::vec(prop_oneof![
                Just("person".to_string()), Just(" ".to_string()), Just("=".to_string()),
                Just("!=".to_string()), Just("<=".to_string()), Just(">".to_string()),
                Just("(".to_string()), Just(")".to_string()), Just(",".to_string()),
                Just(".".to_string()), Just("\"".to_string()), Just("'".to_string()),
                Just("\\".to_string()), Just("\\u{41}".to_string()), Just("é".to_string()),
                Just("\u{a0}".to_string()), Just("-".to_string()), Just("2026-01-01".to_string()),
                Just("T12:00:00Z".to_string()), Just("1.5e3".to_string()), Just("30d".to_string()),
                Just("_x9".to_string()), Just("}".to_string()), Just("{".to_string()),
                "[0-9]{1,22}", "[a-zA-Z_]{1,6}", "\\PC{1,3}",
            ], 0..14),
        ) {
            same(&parts.concat())?;
        }
    }
}
