//! The JSON form: serde does the shape, this module the rules serde cannot express.

use crate::ast::{Did, Field, Filter, Literal, Op, SmartList};
use crate::error::{Error, Result};
use crate::parse::{DEPTH_MAX, TEXT_BYTES_MAX};

impl Filter {
    /// Reads the JSON form (docs/QUERY.md) and checks it as the parser would.
    ///
    /// # Errors
    ///
    /// [`Error::Json`] for malformed JSON or an unknown shape, [`Error::Invalid`] for an
    /// empty `and`/`or`/`in` or an operator the field does not allow,
    /// [`Error::TooDeep`], [`Error::TooLong`].
    pub fn from_json(text: &str) -> Result<Filter> {
        check_len(text)?;
        let filter: Filter = serde_json::from_str(text)?;
        filter.validate()?;
        Ok(filter)
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        // Serializing these types into a string cannot fail: every map key is a string
        // and every float is finite.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks what the grammar guarantees for parsed filters but a tree built in code
    /// or read from JSON may break.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] or [`Error::TooDeep`].
    pub fn validate(&self) -> Result<()> {
        validate_filter(self, 1)
    }
}

impl SmartList {
    /// Reads the JSON form (docs/QUERY.md) and checks it as the parser would.
    ///
    /// # Errors
    ///
    /// As [`Filter::from_json`]; also a `did` with both `in_last` and `between`, or
    /// `at_least` of 0.
    pub fn from_json(text: &str) -> Result<SmartList> {
        check_len(text)?;
        let list: SmartList = serde_json::from_str(text)?;
        list.validate()?;
        Ok(list)
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        // As for `Filter::to_json`, this cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks what the grammar guarantees for parsed lists.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] or [`Error::TooDeep`].
    pub fn validate(&self) -> Result<()> {
        validate_list(self, 1)
    }
}

fn check_len(text: &str) -> Result<()> {
    if text.len() > TEXT_BYTES_MAX {
        return Err(Error::TooLong {
            text_bytes: text.len(),
            text_bytes_max: TEXT_BYTES_MAX,
        });
    }
    Ok(())
}

fn check_depth(depth: usize) -> Result<()> {
    if depth > DEPTH_MAX {
        return Err(Error::TooDeep {
            column: 0,
            depth_max: DEPTH_MAX,
        });
    }
    Ok(())
}

fn validate_op<T>(field: Field, op: &Op<T>) -> Result<()> {
    if !field.allows(op.kind()) {
        return Err(Error::Invalid(format!(
            "`{}` does not support `{}`",
            field.as_str(),
            op.kind()
        )));
    }
    if let Op::In(values) = op {
        if values.is_empty() {
            return Err(Error::Invalid(format!(
                "`{} in` needs at least one value",
                field.as_str()
            )));
        }
    }
    Ok(())
}

fn validate_filter(filter: &Filter, depth: usize) -> Result<()> {
    check_depth(depth)?;
    match filter {
        Filter::And(cs) | Filter::Or(cs) => {
            if cs.is_empty() {
                return Err(Error::Invalid(
                    "`and` and `or` need at least one element".into(),
                ));
            }
            cs.iter().try_for_each(|c| validate_filter(c, depth + 1))
        }
        Filter::Not(c) => validate_filter(c, depth + 1),
        Filter::Type(op) => validate_op(Field::Type, op),
        Filter::Person(op) => validate_op(Field::Person, op),
        Filter::Occurred(op) => validate_op(Field::Occurred, op),
        Filter::Id(op) => validate_op(Field::Id, op),
        Filter::Primary(op) => validate_literals(Field::Primary, op),
        Filter::Attr(p) => validate_literals(Field::Attr, &p.op),
    }
}

fn validate_literals(field: Field, op: &Op<Literal>) -> Result<()> {
    validate_op(field, op)?;
    let finite = |l: &Literal| !matches!(l, Literal::Float(v) if !v.is_finite());
    let ok = match op {
        Op::Eq(v) | Op::Ne(v) | Op::Lt(v) | Op::Le(v) | Op::Gt(v) | Op::Ge(v) => finite(v),
        Op::In(vs) => vs.iter().all(finite),
        Op::Between(a, b) => finite(a) && finite(b),
        Op::Contains(_) | Op::StartsWith(_) | Op::InLast(_) => true,
    };
    if !ok {
        return Err(Error::Invalid("a float literal must be finite".into()));
    }
    Ok(())
}

fn validate_list(list: &SmartList, depth: usize) -> Result<()> {
    check_depth(depth)?;
    match list {
        SmartList::And(cs) | SmartList::Or(cs) => {
            if cs.is_empty() {
                return Err(Error::Invalid(
                    "`and` and `or` need at least one element".into(),
                ));
            }
            cs.iter().try_for_each(|c| validate_list(c, depth + 1))
        }
        SmartList::Not(c) => validate_list(c, depth + 1),
        SmartList::Did(did) => validate_did(did, depth),
    }
}

fn validate_did(did: &Did, depth: usize) -> Result<()> {
    if did.in_last.is_some() && did.between.is_some() {
        return Err(Error::Invalid(
            "a `did` takes `in_last` or `between`, not both".into(),
        ));
    }
    if did.at_least == Some(0) {
        return Err(Error::Invalid("`at_least` must be 1 or more".into()));
    }
    match &did.filter {
        Some(f) => validate_filter(f, depth + 1),
        None => Ok(()),
    }
}
