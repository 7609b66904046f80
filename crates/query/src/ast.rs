//! The filter and smart-list syntax trees, and their text form (`Display`).
//!
//! One tree has two faces: [`std::fmt::Display`] prints the text form that
//! [`crate::parse_filter`] reads back to an equal tree, and serde gives the JSON form of
//! docs/QUERY.md. Names are not resolved here: `type = webinarAttended` and
//! `attr.durationMinutes` stay names until checked against a catalog.

use crate::time::{Date, DateTime, Duration, Time};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An activity filter: a boolean combination of predicates on one activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// All of these hold (at least one element).
    And(Vec<Filter>),
    /// At least one of these holds (at least one element).
    Or(Vec<Filter>),
    /// This does not hold.
    Not(Box<Filter>),
    /// The activity type: `type = webinarAttended`, `type in (1, 2)`.
    Type(Op<TypeRef>),
    /// The person: `person = 42`, `person in (1, 2)`.
    Person(Op<u64>),
    /// When it occurred: `occurred >= 2026-01-01`, `occurred in last 30d`.
    Occurred(Op<Time>),
    /// The activity id: `id > 1000`.
    Id(Op<u64>),
    /// The primary attribute's value: `primary = "Rust 101"`.
    Primary(Op<Literal>),
    /// A named attribute: `attr.durationMinutes > 30`.
    Attr(AttrPredicate),
}

/// A predicate on a named attribute, `attr.NAME OP VALUE`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttrPredicate {
    /// The attribute's API name.
    pub name: String,
    /// The comparison.
    #[serde(flatten)]
    pub op: Op<Literal>,
}

/// A comparison of a field with literal values. Which operators a field allows is in
/// [`Field::allows`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op<T> {
    /// `= v`
    #[serde(alias = "=")]
    Eq(T),
    /// `!= v`
    #[serde(alias = "!=")]
    Ne(T),
    /// `< v`
    #[serde(alias = "<")]
    Lt(T),
    /// `<= v`
    #[serde(alias = "<=")]
    Le(T),
    /// `> v`
    #[serde(alias = ">")]
    Gt(T),
    /// `>= v`
    #[serde(alias = ">=")]
    Ge(T),
    /// `in (a, b, ...)`, equal to one of them (at least one element).
    In(Vec<T>),
    /// `between a and b`, meaning `>= a and <= b` as in SQL.
    Between(T, T),
    /// `contains "s"`, a substring of a string value.
    Contains(String),
    /// `starts_with "s"`, a prefix of a string value.
    StartsWith(String),
    /// `in last 30d`: a time no earlier than `now - duration` and no later than `now`.
    InLast(Duration),
}

/// The operator of an [`Op`], without its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in (...)`
    In,
    /// `between`
    Between,
    /// `contains`
    Contains,
    /// `starts_with`
    StartsWith,
    /// `in last`
    InLast,
}

impl OpKind {
    /// How the operator is written.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Eq => "=",
            OpKind::Ne => "!=",
            OpKind::Lt => "<",
            OpKind::Le => "<=",
            OpKind::Gt => ">",
            OpKind::Ge => ">=",
            OpKind::In => "in",
            OpKind::Between => "between",
            OpKind::Contains => "contains",
            OpKind::StartsWith => "starts_with",
            OpKind::InLast => "in last",
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<T> Op<T> {
    /// The operator without its values.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Eq(_) => OpKind::Eq,
            Op::Ne(_) => OpKind::Ne,
            Op::Lt(_) => OpKind::Lt,
            Op::Le(_) => OpKind::Le,
            Op::Gt(_) => OpKind::Gt,
            Op::Ge(_) => OpKind::Ge,
            Op::In(_) => OpKind::In,
            Op::Between(..) => OpKind::Between,
            Op::Contains(_) => OpKind::Contains,
            Op::StartsWith(_) => OpKind::StartsWith,
            Op::InLast(_) => OpKind::InLast,
        }
    }
}

/// The field a predicate looks at, for error messages and operator rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `type`
    Type,
    /// `person`
    Person,
    /// `occurred`
    Occurred,
    /// `id`
    Id,
    /// `primary`
    Primary,
    /// `attr.NAME`
    Attr,
}

impl Field {
    /// Whether the language allows `op` on this field.
    pub fn allows(self, op: OpKind) -> bool {
        use OpKind as K;
        match self {
            Field::Type | Field::Person => matches!(op, K::Eq | K::Ne | K::In),
            Field::Occurred => !matches!(op, K::In | K::Contains | K::StartsWith),
            Field::Id => !matches!(op, K::InLast | K::Contains | K::StartsWith),
            Field::Primary | Field::Attr => true,
        }
    }

    /// How the field is written.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Type => "type",
            Field::Person => "person",
            Field::Occurred => "occurred",
            Field::Id => "id",
            Field::Primary => "primary",
            Field::Attr => "attr",
        }
    }
}

/// An activity type named by its API name or by its numeric id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TypeRef {
    /// A numeric type id, `type = 7`.
    Id(u32),
    /// An API name, `type = webinarAttended` or `type = "webinar attended"`.
    Name(String),
}

/// A literal value compared with the primary or a named attribute.
///
/// JSON: strings, numbers and booleans are themselves; dates and datetimes are one-key
/// objects, `{"date": "2026-01-01"}` and `{"datetime": "2026-02-01T12:00:00Z"}`, so a
/// string that looks like a date stays a string.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `"Rust 101"`
    String(String),
    /// `30`, `-4`
    Int(i64),
    /// `2.5`, `1e-3` (always finite)
    Float(f64),
    /// `true`, `false`
    Bool(bool),
    /// `2026-01-01`
    Date(Date),
    /// `2026-02-01T12:00:00Z`
    DateTime(DateTime),
}

impl Literal {
    /// A short name of the literal's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Literal::String(_) => "string",
            Literal::Int(_) => "integer",
            Literal::Float(_) => "float",
            Literal::Bool(_) => "boolean",
            Literal::Date(_) => "date",
            Literal::DateTime(_) => "datetime",
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum LiteralJson {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Tagged(TaggedTimeJson),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum TaggedTimeJson {
    Date(String),
    Datetime(String),
}

impl Serialize for Literal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let json = match self {
            Literal::String(v) => LiteralJson::String(v.clone()),
            Literal::Int(v) => LiteralJson::Int(*v),
            Literal::Float(v) => LiteralJson::Float(*v),
            Literal::Bool(v) => LiteralJson::Bool(*v),
            Literal::Date(v) => LiteralJson::Tagged(TaggedTimeJson::Date(v.to_string())),
            Literal::DateTime(v) => LiteralJson::Tagged(TaggedTimeJson::Datetime(v.to_string())),
        };
        json.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Literal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Literal, D::Error> {
        use serde::de::Error as _;
        Ok(match LiteralJson::deserialize(d)? {
            LiteralJson::Bool(v) => Literal::Bool(v),
            LiteralJson::Int(v) => Literal::Int(v),
            LiteralJson::Float(v) => Literal::Float(v),
            LiteralJson::String(v) => Literal::String(v),
            LiteralJson::Tagged(TaggedTimeJson::Date(v)) => {
                Literal::Date(v.parse().map_err(D::Error::custom)?)
            }
            LiteralJson::Tagged(TaggedTimeJson::Datetime(v)) => {
                Literal::DateTime(v.parse().map_err(D::Error::custom)?)
            }
        })
    }
}

/// A smart list: a set of persons described by what they did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmartList {
    /// Persons in all of these (at least one element).
    And(Vec<SmartList>),
    /// Persons in any of these (at least one element).
    Or(Vec<SmartList>),
    /// Persons not in this one.
    Not(Box<SmartList>),
    /// Persons who did something.
    Did(Did),
}

/// `did TYPE [where FILTER] [at least N times] [in last DURATION | between A and B]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Did {
    /// The activity type.
    #[serde(rename = "type")]
    pub type_ref: TypeRef,
    /// Which activities of that type count.
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    /// How many matching activities a person needs (`None` means at least one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<u32>,
    /// When the activities must have occurred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_last: Option<Duration>,
    /// When the activities must have occurred; at most one of this and `in_last`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub between: Option<(Time, Time)>,
}

/// Words the parser gives a meaning to; a type name spelled like one is printed quoted.
pub(crate) const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "last",
    "between",
    "contains",
    "starts_with",
    "true",
    "false",
    "type",
    "person",
    "occurred",
    "id",
    "primary",
    "attr",
    "did",
    "where",
    "at",
    "least",
    "times",
    "time",
];

pub(crate) fn is_keyword(s: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s))
}

fn is_plain_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Writes `s` as a double-quoted string literal that the lexer reads back exactly.
pub(crate) fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// Writes a name as a bare identifier when it reads back as one, else quoted.
fn write_name(f: &mut fmt::Formatter<'_>, s: &str, keywords_need_quotes: bool) -> fmt::Result {
    if is_plain_ident(s) && !(keywords_need_quotes && is_keyword(s)) {
        f.write_str(s)
    } else {
        write_quoted(f, s)
    }
}

impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Id(id) => write!(f, "{id}"),
            TypeRef::Name(name) => write_name(f, name, true),
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => write_quoted(f, s),
            Literal::Int(v) => write!(f, "{v}"),
            // `Debug` prints the shortest text that reads back to the same float and
            // always marks it as a float (`1.0`, `1e20`), never as an integer.
            Literal::Float(v) => write!(f, "{v:?}"),
            Literal::Bool(v) => write!(f, "{v}"),
            Literal::Date(v) => write!(f, "{v}"),
            Literal::DateTime(v) => write!(f, "{v}"),
        }
    }
}

impl<T: fmt::Display> fmt::Display for Op<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Eq(v) | Op::Ne(v) | Op::Lt(v) | Op::Le(v) | Op::Gt(v) | Op::Ge(v) => {
                write!(f, "{} {v}", self.kind())
            }
            Op::In(vs) => {
                f.write_str("in (")?;
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Op::Between(a, b) => write!(f, "between {a} and {b}"),
            Op::Contains(s) => {
                f.write_str("contains ")?;
                write_quoted(f, s)
            }
            Op::StartsWith(s) => {
                f.write_str("starts_with ")?;
                write_quoted(f, s)
            }
            Op::InLast(d) => write!(f, "in last {d}"),
        }
    }
}

/// Writes the children of an `and` or `or`, parenthesising those that would otherwise
/// parse differently: an `or` inside an `and` (precedence), and a node of the same kind
/// (which the parser would flatten into its parent).
fn write_junction<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    children: &[T],
    word: &str,
    needs_parens: impl Fn(&T) -> bool,
) -> fmt::Result {
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            write!(f, " {word} ")?;
        }
        if needs_parens(child) {
            write!(f, "({child})")?;
        } else {
            write!(f, "{child}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(cs) => write_junction(f, cs, "and", |c| {
                matches!(c, Filter::And(_) | Filter::Or(_))
            }),
            Filter::Or(cs) => write_junction(f, cs, "or", |c| matches!(c, Filter::Or(_))),
            Filter::Not(c) => match **c {
                Filter::And(_) | Filter::Or(_) => write!(f, "not ({c})"),
                _ => write!(f, "not {c}"),
            },
            Filter::Type(op) => write!(f, "type {op}"),
            Filter::Person(op) => write!(f, "person {op}"),
            Filter::Occurred(op) => write!(f, "occurred {op}"),
            Filter::Id(op) => write!(f, "id {op}"),
            Filter::Primary(op) => write!(f, "primary {op}"),
            Filter::Attr(p) => {
                f.write_str("attr.")?;
                write_name(f, &p.name, false)?;
                write!(f, " {}", p.op)
            }
        }
    }
}

impl fmt::Display for SmartList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmartList::And(cs) => write_junction(f, cs, "and", |c| {
                matches!(c, SmartList::And(_) | SmartList::Or(_))
            }),
            SmartList::Or(cs) => write_junction(f, cs, "or", |c| matches!(c, SmartList::Or(_))),
            SmartList::Not(c) => match **c {
                SmartList::And(_) | SmartList::Or(_) => write!(f, "not ({c})"),
                _ => write!(f, "not {c}"),
            },
            SmartList::Did(d) => d.fmt(f),
        }
    }
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "did {}", self.type_ref)?;
        if let Some(filter) = &self.filter {
            // The `where` rule of the grammar ends the filter before `at least`,
            // `in last`, `between` and before `and`/`or` followed by `did`, none of
            // which a printed filter contains at its top level, so no parentheses
            // are needed.
            write!(f, " where {filter}")?;
        }
        if let Some(n) = self.at_least {
            write!(f, " at least {n} times")?;
        }
        if let Some(d) = self.in_last {
            write!(f, " in last {d}")?;
        }
        if let Some((a, b)) = self.between {
            write!(f, " between {a} and {b}")?;
        }
        Ok(())
    }
}
