//! Attribute data types and typed values, with the validation that turns loosely typed
//! JSON input into them.

use crate::error::shorten;
use crate::time;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::cmp::Ordering;
use std::fmt;

/// Longest `string` value, in characters (Marketo's string fields hold 255).
pub const STRING_CHARS_MAX: usize = 255;
/// Longest `text` value, in bytes of UTF-8. Marketo documents no bound for text
/// attributes; 64 KiB matches the largest attribute array it accepts (error 1049).
pub const TEXT_BYTES_MAX: usize = 65_536;
/// Longest `link` value, in characters: the URL length every browser handles.
pub const LINK_CHARS_MAX: usize = 2_048;
/// Longest `phone` value, in characters.
pub const PHONE_CHARS_MAX: usize = 64;
/// Longest `email` value, in characters (RFC 5321 allows 254; Marketo's field holds 255).
pub const EMAIL_CHARS_MAX: usize = 255;

/// The data type of an attribute, with Marketo's JSON names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    /// Up to [`STRING_CHARS_MAX`] characters.
    String,
    /// Up to [`TEXT_BYTES_MAX`] bytes.
    Text,
    /// A 32-bit signed integer. Marketo's integer fields and ids in its REST API are
    /// `int32`, so data recorded here can always be sent back to Marketo.
    Integer,
    /// A finite 64-bit float.
    Float,
    /// `true` or `false`.
    Boolean,
    /// A calendar day, `YYYY-MM-DD`.
    Date,
    /// An instant, stored as UTC milliseconds.
    Datetime,
    /// A syntactically valid email address.
    Email,
    /// An `http` or `https` URL.
    Link,
    /// A phone number: digits, `+`, `-`, spaces and parentheses.
    Phone,
    /// An amount of money, stored as a finite 64-bit float like Marketo's currency fields.
    Currency,
}

impl DataType {
    /// Every data type, in declaration order.
    pub const ALL: [DataType; 11] = [
        DataType::String,
        DataType::Text,
        DataType::Integer,
        DataType::Float,
        DataType::Boolean,
        DataType::Date,
        DataType::Datetime,
        DataType::Email,
        DataType::Link,
        DataType::Phone,
        DataType::Currency,
    ];

    /// Whether values of the type are text (string, text, email, link, phone).
    pub const fn is_textual(self) -> bool {
        matches!(
            self,
            DataType::String | DataType::Text | DataType::Email | DataType::Link | DataType::Phone
        )
    }

    /// Marketo's name for the type (`"string"`, `"datetime"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Text => "text",
            DataType::Integer => "integer",
            DataType::Float => "float",
            DataType::Boolean => "boolean",
            DataType::Date => "date",
            DataType::Datetime => "datetime",
            DataType::Email => "email",
            DataType::Link => "link",
            DataType::Phone => "phone",
            DataType::Currency => "currency",
        }
    }

    /// The type with this Marketo name, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<DataType> {
        DataType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an input value does not fit its data type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidValue {
    /// The value is not of the required type (Marketo's 1001 wording).
    #[error("Invalid value '{value}'. Required of type '{expected}'")]
    WrongType {
        /// The attribute's data type.
        expected: DataType,
        /// The value as given (shortened).
        value: String,
    },
    /// The value is longer than its type allows.
    #[error("{data_type} value is {len} {unit} long; at most {max} are allowed")]
    TooLong {
        /// The attribute's data type.
        data_type: DataType,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
        /// `characters` or `bytes`.
        unit: &'static str,
    },
    /// A number outside the type's range (an integer beyond 32 bits, an infinite float).
    #[error("{data_type} value '{value}' is out of range")]
    OutOfRange {
        /// The attribute's data type.
        data_type: DataType,
        /// The value as given (shortened).
        value: String,
    },
    /// Not a syntactically valid email address.
    #[error("'{value}' is not a valid email address: {reason}")]
    InvalidEmail {
        /// The value (shortened).
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Not an `http(s)` URL.
    #[error("'{value}' is not a valid link: {reason}")]
    InvalidLink {
        /// The value (shortened).
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Not a phone number.
    #[error("'{value}' is not a valid phone number: {reason}")]
    InvalidPhone {
        /// The value (shortened).
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Not a date or datetime, or out of range (years 0001..=9999).
    #[error("'{value}' is not a valid {data_type}: {reason}")]
    InvalidDate {
        /// `date` or `datetime`.
        data_type: DataType,
        /// The value (shortened).
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A typed attribute value. Dates are days and datetimes UTC milliseconds since
/// 1970-01-01; floats are finite and never negative zero.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A `string` value.
    String(String),
    /// A `text` value.
    Text(String),
    /// An `integer` value.
    Integer(i32),
    /// A `float` value.
    Float(f64),
    /// A `boolean` value.
    Boolean(bool),
    /// A `date` value, in days since 1970-01-01.
    Date(i32),
    /// A `datetime` value, in ms since 1970-01-01T00:00:00Z.
    Datetime(i64),
    /// An `email` value.
    Email(String),
    /// A `link` value.
    Link(String),
    /// A `phone` value.
    Phone(String),
    /// A `currency` value.
    Currency(f64),
}

fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => shorten(s),
        other => shorten(&other.to_string()),
    }
}

/// The text of a scalar: strings as they are, numbers and booleans as JSON writes them.
/// Marketo clients send every value as a string, and some send strings as numbers.
fn scalar_text(data_type: DataType, v: &Json) -> Result<String, InvalidValue> {
    match v {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        Json::Null | Json::Array(_) | Json::Object(_) => Err(InvalidValue::WrongType {
            expected: data_type,
            value: json_text(v),
        }),
    }
}

fn check_chars(data_type: DataType, s: &str, max: usize) -> Result<(), InvalidValue> {
    // A character takes at least one byte, so a string of at most `max` bytes is within
    // the bound without decoding it: every value the write path checks comes here.
    if s.len() <= max {
        return Ok(());
    }
    // Counting stops early so an enormous input costs no more than the bound.
    let len = s.chars().take(max + 1).count();
    if len > max {
        return Err(InvalidValue::TooLong {
            data_type,
            len: s.chars().count(),
            max,
            unit: "characters",
        });
    }
    Ok(())
}

fn parse_integer(v: &Json) -> Result<i32, InvalidValue> {
    let wrong = || InvalidValue::WrongType {
        expected: DataType::Integer,
        value: json_text(v),
    };
    let out_of_range = || InvalidValue::OutOfRange {
        data_type: DataType::Integer,
        value: json_text(v),
    };
    let wide: i128 = match v {
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                i128::from(i)
            } else if let Some(u) = n.as_u64() {
                i128::from(u)
            } else {
                let f = n.as_f64().ok_or_else(wrong)?;
                if f.fract() != 0.0 {
                    return Err(wrong());
                }
                if f.abs() > 1e18 {
                    return Err(out_of_range());
                }
                f as i128
            }
        }
        Json::String(s) => {
            let t = s.trim();
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(wrong());
            }
            match t.parse::<i128>() {
                Ok(i) => i,
                Err(_) => return Err(out_of_range()),
            }
        }
        _ => return Err(wrong()),
    };
    i32::try_from(wide).map_err(|_| out_of_range())
}

fn parse_float(data_type: DataType, v: &Json) -> Result<f64, InvalidValue> {
    let wrong = || InvalidValue::WrongType {
        expected: data_type,
        value: json_text(v),
    };
    let f = match v {
        Json::Number(n) => n.as_f64().ok_or_else(wrong)?,
        Json::String(s) => {
            let t = s.trim();
            // Rust also reads "inf" and "NaN"; only decimal notation is a number here.
            let plain = !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
                && t.bytes().any(|b| b.is_ascii_digit());
            if !plain {
                return Err(wrong());
            }
            t.parse::<f64>().map_err(|_| wrong())?
        }
        _ => return Err(wrong()),
    };
    if !f.is_finite() {
        return Err(InvalidValue::OutOfRange {
            data_type,
            value: json_text(v),
        });
    }
    // Negative zero equals zero, so it gets zero's index key.
    Ok(if f == 0.0 { 0.0 } else { f })
}

fn parse_boolean(v: &Json) -> Result<bool, InvalidValue> {
    match v {
        Json::Bool(b) => Ok(*b),
        Json::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Json::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(InvalidValue::WrongType {
            expected: DataType::Boolean,
            value: json_text(v),
        }),
    }
}

/// The checks of a textual data type on its text.
fn check_text(data_type: DataType, s: &str) -> Result<(), InvalidValue> {
    match data_type {
        DataType::Text if s.len() > TEXT_BYTES_MAX => Err(InvalidValue::TooLong {
            data_type,
            len: s.len(),
            max: TEXT_BYTES_MAX,
            unit: "bytes",
        }),
        DataType::Text => Ok(()),
        DataType::Email => check_email(s),
        DataType::Link => check_link(s),
        DataType::Phone => check_phone(s),
        _ => check_chars(data_type, s, STRING_CHARS_MAX),
    }
}

fn check_email(s: &str) -> Result<(), InvalidValue> {
    let bad = |reason| InvalidValue::InvalidEmail {
        value: shorten(s),
        reason,
    };
    check_chars(DataType::Email, s, EMAIL_CHARS_MAX)?;
    let (local, domain) = s.rsplit_once('@').ok_or_else(|| bad("no '@'"))?;
    if local.is_empty() || local.chars().count() > 64 {
        return Err(bad("the part before '@' must have 1 to 64 characters"));
    }
    let local_ok = local
        .chars()
        .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    if !local_ok {
        return Err(bad("the part before '@' has a character not allowed there"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(bad("misplaced '.' before '@'"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("the domain needs a '.'"));
    }
    for label in &labels {
        if label.is_empty() || label.chars().count() > 63 {
            return Err(bad("empty or overlong domain label"));
        }
        if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return Err(bad("the domain has a character not allowed there"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a domain label starts or ends with '-'"));
        }
    }
    Ok(())
}

fn check_link(s: &str) -> Result<(), InvalidValue> {
    let bad = |reason| InvalidValue::InvalidLink {
        value: shorten(s),
        reason,
    };
    check_chars(DataType::Link, s, LINK_CHARS_MAX)?;
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return Err(bad("must start with http:// or https://"));
    };
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains whitespace or a control character"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err(bad("no host"));
    }
    Ok(())
}

fn check_phone(s: &str) -> Result<(), InvalidValue> {
    let bad = |reason| InvalidValue::InvalidPhone {
        value: shorten(s),
        reason,
    };
    check_chars(DataType::Phone, s, PHONE_CHARS_MAX)?;
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'))
    {
        return Err(bad(
            "only digits, '+', '-', spaces and parentheses are allowed",
        ));
    }
    if !s.chars().any(|c| c.is_ascii_digit()) {
        return Err(bad("no digits"));
    }
    Ok(())
}

impl Value {
    /// Validates a JSON scalar as a value of `data_type`.
    ///
    /// Strings are accepted for every type, as Marketo clients send them; numbers and
    /// booleans are accepted where they make sense (a number for a string attribute is
    /// kept as its JSON text). `null` is not a value: callers treat it as absent.
    ///
    /// # Errors
    ///
    /// An [`InvalidValue`] saying why the value does not fit.
    pub fn parse(data_type: DataType, input: &Json) -> Result<Value, InvalidValue> {
        Ok(match data_type {
            DataType::String | DataType::Text => {
                let s = scalar_text(data_type, input)?;
                check_text(data_type, &s)?;
                Value::from_text(data_type, s)
            }
            DataType::Integer => Value::Integer(parse_integer(input)?),
            DataType::Float => Value::Float(parse_float(data_type, input)?),
            DataType::Currency => Value::Currency(parse_float(data_type, input)?),
            DataType::Boolean => Value::Boolean(parse_boolean(input)?),
            DataType::Date | DataType::Datetime => {
                let Json::String(s) = input else {
                    return Err(InvalidValue::WrongType {
                        expected: data_type,
                        value: json_text(input),
                    });
                };
                let parsed = if data_type == DataType::Date {
                    time::parse_date(s.trim()).map(Value::Date)
                } else {
                    time::parse_datetime(s.trim()).map(Value::Datetime)
                };
                parsed.map_err(|e| InvalidValue::InvalidDate {
                    data_type,
                    value: shorten(s),
                    reason: match e {
                        crate::Error::InvalidTime { reason, .. } => reason,
                        _ => "unreadable",
                    },
                })?
            }
            DataType::Email | DataType::Link => {
                let Json::String(s) = input else {
                    return Err(InvalidValue::WrongType {
                        expected: data_type,
                        value: json_text(input),
                    });
                };
                // Checked before the copy, so a rejected value costs no allocation.
                check_text(data_type, s)?;
                Value::from_text(data_type, s.clone())
            }
            DataType::Phone => {
                let s = match input {
                    Json::Number(n) if n.is_u64() => n.to_string(),
                    _ => scalar_text(data_type, input)?,
                };
                check_text(data_type, &s)?;
                Value::from_text(data_type, s)
            }
        })
    }

    /// As [`Value::parse`], taking the JSON by value so that a string moves into the
    /// value instead of being copied.
    ///
    /// # Errors
    ///
    /// As [`Value::parse`].
    pub fn parse_owned(data_type: DataType, input: Json) -> Result<Value, InvalidValue> {
        match input {
            Json::String(s) if data_type.is_textual() => {
                check_text(data_type, &s)?;
                Ok(Value::from_text(data_type, s))
            }
            other => Value::parse(data_type, &other),
        }
    }

    /// A value of a textual data type from its text, already checked.
    fn from_text(data_type: DataType, s: String) -> Value {
        match data_type {
            DataType::Text => Value::Text(s),
            DataType::Email => Value::Email(s),
            DataType::Link => Value::Link(s),
            DataType::Phone => Value::Phone(s),
            // Only textual types reach here; a string is the safe reading of anything else.
            _ => Value::String(s),
        }
    }

    /// The value's data type.
    pub fn data_type(&self) -> DataType {
        match self {
            Value::String(_) => DataType::String,
            Value::Text(_) => DataType::Text,
            Value::Integer(_) => DataType::Integer,
            Value::Float(_) => DataType::Float,
            Value::Boolean(_) => DataType::Boolean,
            Value::Date(_) => DataType::Date,
            Value::Datetime(_) => DataType::Datetime,
            Value::Email(_) => DataType::Email,
            Value::Link(_) => DataType::Link,
            Value::Phone(_) => DataType::Phone,
            Value::Currency(_) => DataType::Currency,
        }
    }

    /// The value as JSON, the way Marketo renders it: numbers and booleans as JSON
    /// numbers and booleans, dates as `YYYY-MM-DD`, datetimes as `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn to_json(&self) -> Json {
        match self {
            Value::String(s)
            | Value::Text(s)
            | Value::Email(s)
            | Value::Link(s)
            | Value::Phone(s) => Json::String(s.clone()),
            Value::Integer(i) => Json::from(*i),
            Value::Float(f) | Value::Currency(f) => {
                serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number)
            }
            Value::Boolean(b) => Json::Bool(*b),
            Value::Date(d) => Json::String(time::format_date(*d)),
            Value::Datetime(ms) => Json::String(time::format_datetime_utc(*ms)),
        }
    }

    /// An order-preserving byte encoding: for two values of one data type, comparing their
    /// keys with `memcmp` gives the same order as [`PartialOrd`]. Keys of different data
    /// types are not comparable and carry no type tag.
    ///
    /// Strings are their UTF-8 bytes, integers, dates and datetimes big-endian with the
    /// sign bit flipped, floats big-endian with the sign bit flipped for positives and
    /// every bit flipped for negatives, booleans one byte 0 or 1.
    pub fn index_key(&self) -> Vec<u8> {
        let mut key = Vec::new();
        self.index_key_into(&mut key);
        key
    }

    /// Appends [`Value::index_key`] to `out`.
    pub fn index_key_into(&self, out: &mut Vec<u8>) {
        self.as_ref().index_key_into(out)
    }

    /// The value borrowed: strings as `&str`.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::String(s) => ValueRef::String(s),
            Value::Text(s) => ValueRef::Text(s),
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Float(f) => ValueRef::Float(*f),
            Value::Boolean(b) => ValueRef::Boolean(*b),
            Value::Date(d) => ValueRef::Date(*d),
            Value::Datetime(ms) => ValueRef::Datetime(*ms),
            Value::Email(s) => ValueRef::Email(s),
            Value::Link(s) => ValueRef::Link(s),
            Value::Phone(s) => ValueRef::Phone(s),
            Value::Currency(f) => ValueRef::Currency(*f),
        }
    }

    /// Roughly how many bytes the value takes in Marketo's attribute array, used for the
    /// 64 KiB bound on one activity's attributes (Marketo error 1049).
    pub(crate) fn json_len_bytes(&self) -> usize {
        match self {
            Value::String(s)
            | Value::Text(s)
            | Value::Email(s)
            | Value::Link(s)
            | Value::Phone(s) => s.len() + 2,
            Value::Boolean(_) => 5,
            Value::Integer(_) => 11,
            Value::Date(_) => 12,
            Value::Datetime(_) => 22,
            Value::Float(_) | Value::Currency(_) => 24,
        }
    }
}

/// A [`Value`] borrowed from where it is stored: what [`crate::codec`] decodes without
/// copying, and what index keys are built from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    /// A `string` value.
    String(&'a str),
    /// A `text` value.
    Text(&'a str),
    /// An `integer` value.
    Integer(i32),
    /// A `float` value.
    Float(f64),
    /// A `boolean` value.
    Boolean(bool),
    /// A `date` value, in days since 1970-01-01.
    Date(i32),
    /// A `datetime` value, in ms since 1970-01-01T00:00:00Z.
    Datetime(i64),
    /// An `email` value.
    Email(&'a str),
    /// A `link` value.
    Link(&'a str),
    /// A `phone` value.
    Phone(&'a str),
    /// A `currency` value.
    Currency(f64),
}

impl ValueRef<'_> {
    /// The owned value.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::String(s) => Value::String(s.to_owned()),
            ValueRef::Text(s) => Value::Text(s.to_owned()),
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Float(f) => Value::Float(f),
            ValueRef::Boolean(b) => Value::Boolean(b),
            ValueRef::Date(d) => Value::Date(d),
            ValueRef::Datetime(ms) => Value::Datetime(ms),
            ValueRef::Email(s) => Value::Email(s.to_owned()),
            ValueRef::Link(s) => Value::Link(s.to_owned()),
            ValueRef::Phone(s) => Value::Phone(s.to_owned()),
            ValueRef::Currency(f) => Value::Currency(f),
        }
    }

    /// The value's data type.
    pub fn data_type(self) -> DataType {
        match self {
            ValueRef::String(_) => DataType::String,
            ValueRef::Text(_) => DataType::Text,
            ValueRef::Integer(_) => DataType::Integer,
            ValueRef::Float(_) => DataType::Float,
            ValueRef::Boolean(_) => DataType::Boolean,
            ValueRef::Date(_) => DataType::Date,
            ValueRef::Datetime(_) => DataType::Datetime,
            ValueRef::Email(_) => DataType::Email,
            ValueRef::Link(_) => DataType::Link,
            ValueRef::Phone(_) => DataType::Phone,
            ValueRef::Currency(_) => DataType::Currency,
        }
    }

    /// Appends the value's [`Value::index_key`] to `out`.
    pub fn index_key_into(self, out: &mut Vec<u8>) {
        match self {
            ValueRef::String(s)
            | ValueRef::Text(s)
            | ValueRef::Email(s)
            | ValueRef::Link(s)
            | ValueRef::Phone(s) => out.extend_from_slice(s.as_bytes()),
            ValueRef::Integer(i) | ValueRef::Date(i) => {
                out.extend_from_slice(&((i as u32) ^ 0x8000_0000).to_be_bytes())
            }
            ValueRef::Datetime(ms) => {
                out.extend_from_slice(&((ms as u64) ^ 0x8000_0000_0000_0000).to_be_bytes())
            }
            ValueRef::Float(f) | ValueRef::Currency(f) => {
                // Adding zero turns negative zero into zero, which it equals.
                let bits = (f + 0.0).to_bits();
                let key = if bits >> 63 == 1 {
                    !bits
                } else {
                    bits ^ 0x8000_0000_0000_0000
                };
                out.extend_from_slice(&key.to_be_bytes())
            }
            ValueRef::Boolean(b) => out.push(u8::from(b)),
        }
    }

    /// Cheap invariant checks for a value read back from storage: finite floats, dates
    /// within years 0001..=9999, strings within their type's bound.
    pub(crate) fn check_stored(self) -> Result<(), &'static str> {
        match self {
            ValueRef::Float(f) | ValueRef::Currency(f) if !f.is_finite() => Err("non-finite float"),
            ValueRef::Date(d) if !(time::DATE_MIN_DAYS..=time::DATE_MAX_DAYS).contains(&d) => {
                Err("date out of range")
            }
            ValueRef::Datetime(ms)
                if !(time::DATETIME_MIN_MS..=time::DATETIME_MAX_MS).contains(&ms) =>
            {
                Err("datetime out of range")
            }
            ValueRef::Text(s) if s.len() > TEXT_BYTES_MAX => Err("text value too long"),
            ValueRef::String(s) | ValueRef::Email(s) | ValueRef::Link(s) | ValueRef::Phone(s)
                if s.len() > LINK_CHARS_MAX * 4 =>
            {
                Err("string value too long")
            }
            _ => Ok(()),
        }
    }
}

impl PartialOrd for Value {
    /// Values of one data type compare by value (strings by bytes); values of different
    /// types are unordered.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Value::String(a), Value::String(b))
            | (Value::Text(a), Value::Text(b))
            | (Value::Email(a), Value::Email(b))
            | (Value::Link(a), Value::Link(b))
            | (Value::Phone(a), Value::Phone(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::Integer(a), Value::Integer(b)) | (Value::Date(a), Value::Date(b)) => {
                Some(a.cmp(b))
            }
            (Value::Datetime(a), Value::Datetime(b)) => Some(a.cmp(b)),
            (Value::Float(a), Value::Float(b)) | (Value::Currency(a), Value::Currency(b)) => {
                a.partial_cmp(b)
            }
            (Value::Boolean(a), Value::Boolean(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s)
            | Value::Text(s)
            | Value::Email(s)
            | Value::Link(s)
            | Value::Phone(s) => f.write_str(s),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Float(x) | Value::Currency(x) => write!(f, "{x}"),
            Value::Boolean(b) => write!(f, "{b}"),
            Value::Date(d) => f.write_str(&time::format_date(*d)),
            Value::Datetime(ms) => f.write_str(&time::format_datetime_utc(*ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn ok(t: DataType, v: Json) -> Value {
        Value::parse(t, &v).unwrap_or_else(|e| panic!("{t} {v}: {e}"))
    }

    fn err(t: DataType, v: Json) -> InvalidValue {
        match Value::parse(t, &v) {
            Ok(x) => panic!("{t} {v} was accepted as {x:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn data_type_names() {
        for t in DataType::ALL {
            assert_eq!(DataType::from_name(t.as_str()), Some(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(serde_json::from_str::<DataType>(&json).unwrap(), t);
        }
        assert_eq!(DataType::from_name("DateTime"), Some(DataType::Datetime));
        assert_eq!(DataType::from_name("textarea"), None);
    }

    #[test]
    fn strings() {
        assert_eq!(
            ok(DataType::String, json!("abc")),
            Value::String("abc".into())
        );
        assert_eq!(ok(DataType::String, json!(42)), Value::String("42".into()));
        assert_eq!(
            ok(DataType::String, json!("é".repeat(255))),
            Value::String("é".repeat(255))
        );
        assert!(matches!(
            err(DataType::String, json!("x".repeat(256))),
            InvalidValue::TooLong {
                len: 256,
                max: 255,
                ..
            }
        ));
        // Past the bound in bytes but not in characters, and past it in both.
        assert_eq!(
            ok(DataType::String, json!(format!("{}x", "é".repeat(254)))),
            Value::String(format!("{}x", "é".repeat(254)))
        );
        assert!(matches!(
            err(DataType::String, json!("é".repeat(256))),
            InvalidValue::TooLong {
                len: 256,
                max: 255,
                ..
            }
        ));
        assert!(matches!(
            err(DataType::Phone, json!("1".repeat(65))),
            InvalidValue::TooLong {
                len: 65,
                max: 64,
                ..
            }
        ));
        assert!(matches!(
            err(DataType::String, json!([1])),
            InvalidValue::WrongType { .. }
        ));
        assert_eq!(
            ok(DataType::Text, json!("x".repeat(TEXT_BYTES_MAX))).data_type(),
            DataType::Text
        );
        assert!(matches!(
            err(DataType::Text, json!("x".repeat(TEXT_BYTES_MAX + 1))),
            InvalidValue::TooLong { .. }
        ));
    }

    #[test]
    fn integers() {
        assert_eq!(ok(DataType::Integer, json!(7)), Value::Integer(7));
        assert_eq!(ok(DataType::Integer, json!(" -12 ")), Value::Integer(-12));
        assert_eq!(ok(DataType::Integer, json!(3.0)), Value::Integer(3));
        assert_eq!(
            ok(DataType::Integer, json!(i32::MAX)),
            Value::Integer(i32::MAX)
        );
        assert_eq!(
            ok(DataType::Integer, json!(i32::MIN.to_string())),
            Value::Integer(i32::MIN)
        );
        assert!(matches!(
            err(DataType::Integer, json!(2_147_483_648u64)),
            InvalidValue::OutOfRange { .. }
        ));
        assert!(matches!(
            err(DataType::Integer, json!("99999999999999999999999")),
            InvalidValue::OutOfRange { .. }
        ));
        assert!(matches!(
            err(DataType::Integer, json!(u64::MAX)),
            InvalidValue::OutOfRange { .. }
        ));
        for bad in [
            json!("1.5"),
            json!(1.5),
            json!("abc"),
            json!(""),
            json!(true),
            json!("1e3"),
        ] {
            assert!(matches!(
                err(DataType::Integer, bad),
                InvalidValue::WrongType { .. }
            ));
        }
    }

    #[test]
    fn floats_and_currency() {
        assert_eq!(ok(DataType::Float, json!(1.5)), Value::Float(1.5));
        assert_eq!(ok(DataType::Float, json!("-2.5e3")), Value::Float(-2500.0));
        assert_eq!(
            ok(DataType::Currency, json!("12.50")),
            Value::Currency(12.5)
        );
        assert_eq!(ok(DataType::Currency, json!(3)), Value::Currency(3.0));
        let Value::Float(z) = ok(DataType::Float, json!("-0.0")) else {
            panic!()
        };
        assert!(z.is_sign_positive());
        for bad in [
            json!("NaN"),
            json!("inf"),
            json!("$12"),
            json!(""),
            json!(false),
        ] {
            assert!(matches!(
                err(DataType::Currency, bad),
                InvalidValue::WrongType { .. }
            ));
        }
        assert!(matches!(
            err(DataType::Float, json!("1e999")),
            InvalidValue::OutOfRange { .. }
        ));
    }

    #[test]
    fn booleans() {
        assert_eq!(ok(DataType::Boolean, json!(true)), Value::Boolean(true));
        assert_eq!(ok(DataType::Boolean, json!("false")), Value::Boolean(false));
        assert_eq!(ok(DataType::Boolean, json!("TRUE")), Value::Boolean(true));
        for bad in [json!(1), json!("yes"), json!("")] {
            assert!(matches!(
                err(DataType::Boolean, bad),
                InvalidValue::WrongType { .. }
            ));
        }
    }

    #[test]
    fn dates() {
        assert_eq!(ok(DataType::Date, json!("1970-01-02")), Value::Date(1));
        assert_eq!(
            ok(DataType::Datetime, json!("1970-01-01T00:00:01+00:00")),
            Value::Datetime(1000)
        );
        assert!(matches!(
            err(DataType::Date, json!("2023-02-30")),
            InvalidValue::InvalidDate { .. }
        ));
        assert!(matches!(
            err(DataType::Date, json!("0000-01-01")),
            InvalidValue::InvalidDate { .. }
        ));
        assert!(matches!(
            err(DataType::Datetime, json!(1_700_000_000)),
            InvalidValue::WrongType { .. }
        ));
        assert_eq!(Value::Date(1).to_string(), "1970-01-02");
        assert_eq!(
            Value::Datetime(1000).to_json(),
            json!("1970-01-01T00:00:01Z")
        );
    }

    #[test]
    fn emails() {
        for good in [
            "a@b.co",
            "first.last+tag@example.com",
            "o'brien@mail.example.org",
            "josé@exämple.de",
        ] {
            ok(DataType::Email, json!(good));
        }
        for bad in [
            "",
            "plain",
            "@b.co",
            "a@",
            "a@b",
            "a@@b.co",
            "a b@c.co",
            "a..b@c.co",
            ".a@c.co",
            "a@-b.co",
            "a@b..co",
            "a@b_c.co",
        ] {
            assert!(
                matches!(
                    err(DataType::Email, json!(bad)),
                    InvalidValue::InvalidEmail { .. }
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            err(DataType::Email, json!(5)),
            InvalidValue::WrongType { .. }
        ));
    }

    #[test]
    fn links() {
        for good in [
            "http://a",
            "https://www.nvidia.com/game-giveaway?x=1#y",
            "HTTPS://EXAMPLE.COM",
            "http://u@h:80/p",
        ] {
            ok(DataType::Link, json!(good));
        }
        for bad in [
            "",
            "www.example.com",
            "ftp://x",
            "http://",
            "https:///path",
            "http://a b",
            "http://:80",
        ] {
            assert!(
                matches!(
                    err(DataType::Link, json!(bad)),
                    InvalidValue::InvalidLink { .. }
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            err(
                DataType::Link,
                json!(format!("http://a/{}", "x".repeat(LINK_CHARS_MAX)))
            ),
            InvalidValue::TooLong { .. }
        ));
    }

    #[test]
    fn phones() {
        for good in ["+1 (555) 123-4567", "0123456789"] {
            ok(DataType::Phone, json!(good));
        }
        assert_eq!(
            ok(DataType::Phone, json!(5551234)),
            Value::Phone("5551234".into())
        );
        for bad in ["", "call me", "555.123", "()", "+"] {
            assert!(
                matches!(
                    err(DataType::Phone, json!(bad)),
                    InvalidValue::InvalidPhone { .. }
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn cross_type_is_unordered() {
        assert_eq!(Value::Integer(1).partial_cmp(&Value::Date(1)), None);
        assert_eq!(
            Value::String("a".into()).partial_cmp(&Value::Text("a".into())),
            None
        );
        assert!(Value::Integer(-1) < Value::Integer(1));
    }

    fn key_order_matches(a: &Value, b: &Value) -> Result<(), TestCaseError> {
        let ord = a
            .partial_cmp(b)
            .ok_or_else(|| TestCaseError::fail("unordered"))?;
        prop_assert_eq!(a.index_key().cmp(&b.index_key()), ord, "{:?} vs {:?}", a, b);
        Ok(())
    }

    fn finite() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            Just(0.0),
            Just(-0.0),
            -10.0f64..10.0
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn index_key_orders_integers(a in any::<i32>(), b in any::<i32>()) {
            key_order_matches(&Value::Integer(a), &Value::Integer(b))?;
            key_order_matches(&Value::Date(a), &Value::Date(b))?;
        }

        #[test]
        fn index_key_orders_datetimes(a in any::<i64>(), b in any::<i64>()) {
            key_order_matches(&Value::Datetime(a), &Value::Datetime(b))?;
        }

        #[test]
        fn index_key_orders_floats(a in finite(), b in finite()) {
            key_order_matches(&Value::Float(a), &Value::Float(b))?;
            key_order_matches(&Value::Currency(a), &Value::Currency(b))?;
        }

        #[test]
        fn index_key_orders_strings(a in "\\PC{0,8}", b in "\\PC{0,8}") {
            key_order_matches(&Value::String(a.clone()), &Value::String(b.clone()))?;
            key_order_matches(&Value::Phone(a), &Value::Phone(b))?;
        }

        #[test]
        fn index_key_orders_booleans(a in any::<bool>(), b in any::<bool>()) {
            key_order_matches(&Value::Boolean(a), &Value::Boolean(b))?;
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}", n in any::<f64>(), i in any::<i64>()) {
            for t in DataType::ALL {
                let _ = Value::parse(t, &json!(s));
                let _ = Value::parse(t, &json!(n));
                let _ = Value::parse(t, &json!(i));
            }
        }

        #[test]
        fn rendered_values_parse_back(i in any::<i32>(), f in finite(), d in crate::time::DATE_MIN_DAYS..=crate::time::DATE_MAX_DAYS) {
            for v in [Value::Integer(i), Value::Float(f + 0.0), Value::Currency(f + 0.0), Value::Date(d)] {
                let back = Value::parse(v.data_type(), &v.to_json()).unwrap();
                prop_assert_eq!(back, v);
            }
        }
    }
}
