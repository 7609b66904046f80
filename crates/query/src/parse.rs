//! The recursive-descent parser of the text form (grammar in docs/QUERY.md).

use crate::ast::{
    is_keyword, AttrPredicate, Did, Field, Filter, Literal, Op, OpKind, SmartList, TypeRef,
};
use crate::error::{Error, Result};
use crate::lex::{lex, Tok, Token};
use crate::time::Time;

/// How deep parentheses and `not`s may nest, so hostile input cannot exhaust the stack
/// of the parser or of anything that later walks the tree.
pub const DEPTH_MAX: usize = 64;

/// The longest query text (and JSON form) accepted.
pub const TEXT_BYTES_MAX: usize = 1024 * 1024;

/// Parses the text form of an activity filter.
///
/// # Errors
///
/// [`Error::Syntax`] with the column and what was expected, [`Error::InvalidLiteral`],
/// [`Error::TooDeep`] or [`Error::TooLong`].
pub fn parse_filter(text: &str) -> Result<Filter> {
    let mut p = Parser::new(text)?;
    let filter = p.or_filter(Context::Alone)?;
    p.expect_eof()?;
    Ok(filter)
}

/// Parses the text form of a smart list.
///
/// # Errors
///
/// As [`parse_filter`].
pub fn parse_smart_list(text: &str) -> Result<SmartList> {
    let mut p = Parser::new(text)?;
    let list = p.list_or()?;
    p.expect_eof()?;
    Ok(list)
}

/// Where a filter is being parsed, which decides where it ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    /// A whole filter, or one inside parentheses.
    Alone,
    /// After `did TYPE where`: an `and`/`or` followed by `did` or `not did` ends it.
    Where,
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn new(text: &str) -> Result<Parser> {
        if text.len() > TEXT_BYTES_MAX {
            return Err(Error::TooLong {
                text_bytes: text.len(),
                text_bytes_max: TEXT_BYTES_MAX,
            });
        }
        let tokens = lex(text)?;
        debug_assert!(matches!(tokens.last(), Some(Token { tok: Tok::Eof, .. })));
        Ok(Parser {
            tokens,
            pos: 0,
            depth: 1,
        })
    }

    fn token(&self, ahead: usize) -> &Token {
        // The last token is always `Eof`, and the parser never moves past it.
        let i = (self.pos + ahead).min(self.tokens.len() - 1);
        &self.tokens[i]
    }

    fn peek(&self) -> &Tok {
        &self.token(0).tok
    }

    fn column(&self) -> usize {
        self.token(0).column
    }

    fn bump(&mut self) -> Token {
        let t = self.token(0).clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn is_kw_at(&self, ahead: usize, kw: &str) -> bool {
        matches!(&self.token(ahead).tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn is_kw(&self, kw: &str) -> bool {
        self.is_kw_at(0, kw)
    }

    fn error(&self, expected: impl Into<String>) -> Error {
        Error::Syntax {
            column: self.column(),
            expected: expected.into(),
            found: self.peek().describe(),
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<()> {
        if self.is_kw(kw) {
            self.bump();
            Ok(())
        } else {
            Err(self.error(format!("`{kw}`")))
        }
    }

    fn expect(&mut self, tok: Tok) -> Result<()> {
        if *self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            Err(self.error(tok.describe()))
        }
    }

    fn expect_eof(&self) -> Result<()> {
        if *self.peek() == Tok::Eof {
            Ok(())
        } else {
            Err(self.error("`and`, `or` or end of input"))
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > DEPTH_MAX {
            return Err(Error::TooDeep {
                column: self.column(),
                depth_max: DEPTH_MAX,
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        debug_assert!(self.depth > 1);
        self.depth -= 1;
    }

    /// Whether a smart-list term starts `ahead` tokens from here: `did`, possibly after
    /// any number of `not`s and `(`s. A filter never contains `did`, so this lookahead
    /// cannot mistake a filter for a list term.
    fn did_at(&self, ahead: usize) -> bool {
        let mut k = ahead;
        while self.is_kw_at(k, "not") || self.token(k).tok == Tok::LParen {
            k += 1;
        }
        self.is_kw_at(k, "did")
    }

    fn junction_continues(&self, word: &str, context: Context) -> bool {
        self.is_kw(word) && !(context == Context::Where && self.did_at(1))
    }

    fn or_filter(&mut self, context: Context) -> Result<Filter> {
        let mut items = vec![self.and_filter(context)?];
        while self.junction_continues("or", context) {
            self.bump();
            items.push(self.and_filter(context)?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Filter::Or(items)
        })
    }

    fn and_filter(&mut self, context: Context) -> Result<Filter> {
        let mut items = vec![self.unary_filter()?];
        while self.junction_continues("and", context) {
            self.bump();
            items.push(self.unary_filter()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Filter::And(items)
        })
    }

    fn unary_filter(&mut self) -> Result<Filter> {
        if self.is_kw("not") {
            self.enter()?;
            self.bump();
            let inner = self.unary_filter()?;
            self.leave();
            return Ok(Filter::Not(Box::new(inner)));
        }
        if *self.peek() == Tok::LParen {
            self.enter()?;
            self.bump();
            let inner = self.or_filter(Context::Alone)?;
            self.expect(Tok::RParen)?;
            self.leave();
            return Ok(inner);
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Filter> {
        const EXPECTED: &str =
            "a predicate (`type`, `person`, `occurred`, `id`, `primary`, `attr.NAME`), `not` or `(`";
        let field = match self.peek() {
            Tok::Ident(s) => s.to_ascii_lowercase(),
            _ => return Err(self.error(EXPECTED)),
        };
        let filter = match field.as_str() {
            "type" => {
                self.bump();
                Filter::Type(self.op(Field::Type, Parser::type_ref)?)
            }
            "person" => {
                self.bump();
                Filter::Person(self.op(Field::Person, Parser::u64_value)?)
            }
            "occurred" => {
                self.bump();
                Filter::Occurred(self.op(Field::Occurred, Parser::time_value)?)
            }
            "id" => {
                self.bump();
                Filter::Id(self.op(Field::Id, Parser::u64_value)?)
            }
            "primary" => {
                self.bump();
                Filter::Primary(self.op(Field::Primary, Parser::literal)?)
            }
            "attr" => {
                self.bump();
                self.expect(Tok::Dot)?;
                let name = match self.peek() {
                    Tok::Ident(s) | Tok::Str(s) => s.clone(),
                    _ => return Err(self.error("an attribute name")),
                };
                self.bump();
                let op = self.op(Field::Attr, Parser::literal)?;
                Filter::Attr(AttrPredicate { name, op })
            }
            _ => return Err(self.error(EXPECTED)),
        };
        Ok(filter)
    }

    fn op<T>(&mut self, field: Field, value: fn(&mut Parser) -> Result<T>) -> Result<Op<T>> {
        let kind = match self.peek() {
            Tok::Eq => Some(OpKind::Eq),
            Tok::Ne => Some(OpKind::Ne),
            Tok::Lt => Some(OpKind::Lt),
            Tok::Le => Some(OpKind::Le),
            Tok::Gt => Some(OpKind::Gt),
            Tok::Ge => Some(OpKind::Ge),
            Tok::Ident(_) if self.is_kw("in") && self.is_kw_at(1, "last") => Some(OpKind::InLast),
            Tok::Ident(_) if self.is_kw("in") => Some(OpKind::In),
            Tok::Ident(_) if self.is_kw("between") => Some(OpKind::Between),
            Tok::Ident(_) if self.is_kw("contains") => Some(OpKind::Contains),
            Tok::Ident(_) if self.is_kw("starts_with") => Some(OpKind::StartsWith),
            _ => None,
        };
        let Some(kind) = kind.filter(|k| field.allows(*k)) else {
            return Err(self.error(expected_ops(field)));
        };
        self.bump();
        Ok(match kind {
            OpKind::Eq => Op::Eq(value(self)?),
            OpKind::Ne => Op::Ne(value(self)?),
            OpKind::Lt => Op::Lt(value(self)?),
            OpKind::Le => Op::Le(value(self)?),
            OpKind::Gt => Op::Gt(value(self)?),
            OpKind::Ge => Op::Ge(value(self)?),
            OpKind::In => {
                self.expect(Tok::LParen)?;
                let mut values = vec![value(self)?];
                while *self.peek() == Tok::Comma {
                    self.bump();
                    values.push(value(self)?);
                }
                self.expect(Tok::RParen)?;
                Op::In(values)
            }
            OpKind::Between => {
                let low = value(self)?;
                self.expect_kw("and")?;
                Op::Between(low, value(self)?)
            }
            OpKind::Contains => Op::Contains(self.string()?),
            OpKind::StartsWith => Op::StartsWith(self.string()?),
            OpKind::InLast => {
                self.bump(); // `last`
                match *self.peek() {
                    Tok::Duration(d) => {
                        self.bump();
                        Op::InLast(d)
                    }
                    _ => return Err(self.error("a duration such as `30d`, `12h`, `15m`")),
                }
            }
        })
    }

    fn string(&mut self) -> Result<String> {
        match self.peek() {
            Tok::Str(s) => {
                let s = s.clone();
                self.bump();
                Ok(s)
            }
            _ => Err(self.error("a string")),
        }
    }

    fn type_ref(&mut self) -> Result<TypeRef> {
        const EXPECTED: &str = "an activity type (API name or numeric id)";
        let column = self.column();
        let type_ref = match self.peek() {
            Tok::Ident(s) if !is_keyword(s) => TypeRef::Name(s.clone()),
            Tok::Str(s) => TypeRef::Name(s.clone()),
            Tok::Int(v) => TypeRef::Id(u32::try_from(*v).map_err(|_| Error::InvalidLiteral {
                column,
                what: format!("type id `{v}` is not between 0 and {}", u32::MAX),
            })?),
            _ => return Err(self.error(EXPECTED)),
        };
        self.bump();
        Ok(type_ref)
    }

    fn u64_value(&mut self) -> Result<u64> {
        let column = self.column();
        match *self.peek() {
            Tok::Int(v) => {
                let v = u64::try_from(v).map_err(|_| Error::InvalidLiteral {
                    column,
                    what: format!("`{v}` is not between 0 and {}", u64::MAX),
                })?;
                self.bump();
                Ok(v)
            }
            _ => Err(self.error("a non-negative integer")),
        }
    }

    fn time_value(&mut self) -> Result<Time> {
        match *self.peek() {
            Tok::Time(t) => {
                self.bump();
                Ok(t)
            }
            _ => Err(self.error("a date (`2026-01-01`) or datetime (`2026-02-01T12:00:00Z`)")),
        }
    }

    fn literal(&mut self) -> Result<Literal> {
        let column = self.column();
        let literal = match self.peek() {
            Tok::Str(s) => Literal::String(s.clone()),
            Tok::Int(v) => Literal::Int(i64::try_from(*v).map_err(|_| Error::InvalidLiteral {
                column,
                what: format!("integer `{v}` is larger than {}", i64::MAX),
            })?),
            Tok::Float(v) => Literal::Float(*v),
            Tok::Time(Time::Date(d)) => Literal::Date(*d),
            Tok::Time(Time::DateTime(t)) => Literal::DateTime(*t),
            Tok::Ident(_) if self.is_kw("true") => Literal::Bool(true),
            Tok::Ident(_) if self.is_kw("false") => Literal::Bool(false),
            _ => {
                return Err(self
                    .error("a value (string, integer, float, `true`, `false`, date or datetime)"))
            }
        };
        self.bump();
        Ok(literal)
    }

    fn list_or(&mut self) -> Result<SmartList> {
        let mut items = vec![self.list_and()?];
        while self.is_kw("or") {
            self.bump();
            items.push(self.list_and()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            SmartList::Or(items)
        })
    }

    fn list_and(&mut self) -> Result<SmartList> {
        let mut items = vec![self.list_unary()?];
        while self.is_kw("and") {
            self.bump();
            items.push(self.list_unary()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            SmartList::And(items)
        })
    }

    fn list_unary(&mut self) -> Result<SmartList> {
        if self.is_kw("not") {
            self.enter()?;
            self.bump();
            let inner = self.list_unary()?;
            self.leave();
            return Ok(SmartList::Not(Box::new(inner)));
        }
        if *self.peek() == Tok::LParen {
            self.enter()?;
            self.bump();
            let inner = self.list_or()?;
            self.expect(Tok::RParen)?;
            self.leave();
            return Ok(inner);
        }
        if self.is_kw("did") {
            return self.did();
        }
        Err(self.error("`did`, `not did` or `(`"))
    }

    fn did(&mut self) -> Result<SmartList> {
        self.expect_kw("did")?;
        let type_ref = self.type_ref()?;
        let mut did = Did {
            type_ref,
            filter: None,
            at_least: None,
            in_last: None,
            between: None,
        };
        if self.is_kw("where") {
            self.bump();
            did.filter = Some(self.or_filter(Context::Where)?);
        }
        if self.is_kw("at") {
            self.bump();
            self.expect_kw("least")?;
            let column = self.column();
            let n = match *self.peek() {
                Tok::Int(n) => u32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
                    Error::InvalidLiteral {
                        column,
                        what: format!("`at least {n}` needs a count between 1 and {}", u32::MAX),
                    }
                })?,
                _ => return Err(self.error("a count")),
            };
            self.bump();
            if self.is_kw("times") || self.is_kw("time") {
                self.bump();
            } else {
                return Err(self.error("`times`"));
            }
            did.at_least = Some(n);
        }
        if self.is_kw("in") && self.is_kw_at(1, "last") {
            self.bump();
            self.bump();
            match *self.peek() {
                Tok::Duration(d) => {
                    self.bump();
                    did.in_last = Some(d);
                }
                _ => return Err(self.error("a duration such as `30d`, `12h`, `15m`")),
            }
        } else if self.is_kw("between") {
            self.bump();
            let low = self.time_value()?;
            self.expect_kw("and")?;
            did.between = Some((low, self.time_value()?));
        }
        Ok(SmartList::Did(did))
    }
}

fn expected_ops(field: Field) -> String {
    const ALL: [OpKind; 11] = [
        OpKind::Eq,
        OpKind::Ne,
        OpKind::Lt,
        OpKind::Le,
        OpKind::Gt,
        OpKind::Ge,
        OpKind::In,
        OpKind::Between,
        OpKind::Contains,
        OpKind::StartsWith,
        OpKind::InLast,
    ];
    let ops: Vec<String> = ALL
        .iter()
        .filter(|k| field.allows(**k))
        .map(|k| format!("`{k}`"))
        .collect();
    format!("an operator for `{}` ({})", field.as_str(), ops.join(", "))
}
