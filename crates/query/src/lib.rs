//! Filter language, planner, streaming executor and smart-list people queries for actlog.
//!
//! A filter is one syntax tree ([`Filter`]) with two faces: a text form for people
//! (`type = webinarAttended and attr.durationMinutes > 30`) and a JSON form for programs.
//! A smart list ([`SmartList`]) describes a set of persons by what they did
//! (`did webinarAttended at least 2 times in last 30d and not did checkDeposited`).
//! The grammar, the JSON form and every error are in docs/QUERY.md.
//!
//! Queries are resolved against the type catalog ([`resolve`], [`resolve_smart_list`]),
//! then planned onto the cheapest of a time-pruned log scan and the by-type, by-person,
//! by-primary-value and by-indexed-attribute index paths ([`query`]); results stream in
//! (occurred_at, id) order with a resumable [`Cursor`]. Smart lists are answered from
//! the index ([`people_indexed`]), with the log scan ([`people`]) as the fallback.
//! [`matches()`] and [`people_brute_force`] define the answers every path is tested
//! against.
//!
//! This crate does not own storage: it reads activities through [`ActivitySource`] and
//! postings through [`PostingIndex`], traits the engine implements, so it can be tested
//! on in-memory data. It offers blocking iterators and stays free of any async runtime.
//!
//! ```
//! use actlog_query::{parse_filter, Filter};
//!
//! let filter = parse_filter("type = webinarAttended and attr.durationMinutes > 30")?;
//! assert_eq!(
//!     filter.to_json(),
//!     r#"{"and":[{"type":{"eq":"webinarAttended"}},{"attr":{"name":"durationMinutes","gt":30}}]}"#
//! );
//! assert_eq!(Filter::from_json(&filter.to_json())?, filter);
//! assert_eq!(filter.to_string(), "type = webinarAttended and attr.durationMinutes > 30");
//! # Ok::<(), actlog_query::Error>(())
//! ```

mod ast;
mod error;
mod exec;
mod json;
mod lex;
mod parse;
mod plan;
mod records;
mod resolve;
mod smart;
mod time;

pub use ast::{AttrPredicate, Did, Field, Filter, Literal, Op, OpKind, SmartList, TypeRef};
pub use error::{Error, Result};
pub use exec::{
    id_window, ids_meeting, may_match, occurred_bounds, scan, ActivityHeader, ActivitySource,
    Cursor, Direction, QueryOptions, Scan, ScanStats, ScanTest, SegmentSpan, SourceError,
};
pub use parse::{parse_filter, parse_smart_list, DEPTH_MAX, TEXT_BYTES_MAX};
pub use plan::{
    candidate_plans, choose_plan, execute, key_spans, key_spans_exact, query, Explain, KeySpan,
    PersonsPostings, Plan, PostingIndex, Postings, Query, ValueLookup, ValueSlot,
    FETCH_BATCH_FIRST, FETCH_BATCH_MAX, PERSON_PLAN_SURE_MAX, VALUE_POSTINGS_HELD_MAX,
};
pub use records::Records;
pub use resolve::{
    matches, matches_view, resolve, AttrMatch, ResolvedFilter, Scalar, Slot, ValuePred,
};
pub use smart::{
    deciding_lookup, did_path, people, people_brute_force, people_indexed, resolve_smart_list,
    DidPath, ResolvedDid, ResolvedList, FETCH_COST_POSTINGS, PERSON_LOOKUP_POSTINGS,
};
pub use time::{Date, DateTime, Duration, DurationUnit, Time};

impl std::str::FromStr for Filter {
    type Err = Error;

    fn from_str(text: &str) -> Result<Filter> {
        parse_filter(text)
    }
}

impl std::str::FromStr for SmartList {
    type Err = Error;

    fn from_str(text: &str) -> Result<SmartList> {
        parse_smart_list(text)
    }
}
