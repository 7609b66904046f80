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
pub(crate) fn lex(text: &str) -> Result<Vec<Token>> {
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
                expected: format!("closing `{quote}` of the string at column {}", start + 1),
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
