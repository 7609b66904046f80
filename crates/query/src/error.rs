//! The one error type of this crate.

/// Everything that can go wrong while parsing, checking or running a query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text form did not follow the grammar of docs/QUERY.md.
    #[error("syntax error at column {column}: expected {expected}, found {found}")]
    Syntax {
        /// 1-based column, counted in characters, where the offending token starts.
        column: usize,
        /// What the parser could have accepted there.
        expected: String,
        /// What it found instead.
        found: String,
    },
    /// A literal had the right shape but an impossible value (`2026-02-30`, an integer
    /// that overflows, an unknown escape in a string).
    #[error("invalid literal at column {column}: {what}")]
    InvalidLiteral {
        /// 1-based column of the literal.
        column: usize,
        /// What was wrong with it.
        what: String,
    },
    /// Parentheses or `not`s nested deeper than [`crate::DEPTH_MAX`].
    #[error("query nests deeper than {depth_max} levels at column {column}")]
    TooDeep {
        /// 1-based column where the limit was crossed (0 for the JSON form).
        column: usize,
        /// The limit.
        depth_max: usize,
    },
    /// The text is longer than [`crate::TEXT_BYTES_MAX`].
    #[error("query text is {text_bytes} bytes, more than the limit of {text_bytes_max}")]
    TooLong {
        /// Length of the given text.
        text_bytes: usize,
        /// The limit.
        text_bytes_max: usize,
    },
    /// A type named in the query is not in the catalog.
    #[error("unknown activity type `{name}`")]
    UnknownType {
        /// The name or id as written.
        name: String,
    },
    /// No type in scope has an attribute with this API name.
    #[error("unknown attribute `{name}` (looked in {scope})")]
    UnknownAttribute {
        /// The attribute's API name as written.
        name: String,
        /// The types searched: their API names, or `any type`.
        scope: String,
    },
    /// A literal that does not fit the data type of the field it is compared with.
    #[error("`{field}` is {data_type}, which cannot be compared with {literal}")]
    TypeMismatch {
        /// `primary` or `attr.NAME`.
        field: String,
        /// The field's data type (the first one in scope, when types disagree).
        data_type: actlog_model::DataType,
        /// The literal and its kind, e.g. `string "x"`.
        literal: String,
    },
    /// An operator that makes no sense for the field's data type (`contains` on an
    /// integer, `in last` on a string).
    #[error("`{field}` is {data_type}, which does not support `{op}`")]
    UnsupportedOperator {
        /// `primary` or `attr.NAME`.
        field: String,
        /// The field's data type.
        data_type: actlog_model::DataType,
        /// The operator.
        op: crate::OpKind,
    },
    /// A cursor that this crate did not produce, or produced for the other direction.
    #[error("invalid cursor `{cursor}`: {what}")]
    InvalidCursor {
        /// The cursor as given.
        cursor: String,
        /// What was wrong with it.
        what: &'static str,
    },
    /// Reading activities failed.
    #[error("reading activities: {0}")]
    Source(#[from] crate::exec::SourceError),
    /// The JSON form could not be read.
    #[error("invalid JSON query: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON form was well-formed but says something the language does not allow
    /// (an empty `and`, an operator a field does not support).
    #[error("invalid query: {0}")]
    Invalid(String),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
