//! SQLite (bundled, through rusqlite) as a peer: one table, two indexes, WAL.
//!
//! The schema is what a careful application would write for this data:
//!
//! ```sql
//! activities(seq INTEGER PRIMARY KEY, person_id, type_id, occurred_at,
//!            primary_value TEXT, attrs BLOB)
//! idx_person ON activities(person_id, type_id, occurred_at)
//! idx_type   ON activities(type_id, occurred_at)
//! ```
//!
//! `attrs` holds the bincode of the three extra attributes. Durability maps to
//! `synchronous=FULL` (an fsync of the WAL at every commit) or `OFF`; each batch is one
//! transaction through a cached prepared statement.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, Row};

use super::{BenchTarget, Durability};
use crate::error::{Error, Result};
use crate::record::{decode_attrs, encode_attrs, Record};
use crate::workload::GenActivity;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS activities(
    seq INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL,
    type_id INTEGER NOT NULL,
    occurred_at INTEGER NOT NULL,
    primary_value TEXT NOT NULL,
    attrs BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_person ON activities(person_id, type_id, occurred_at);
CREATE INDEX IF NOT EXISTS idx_type ON activities(type_id, occurred_at);
";

const INSERT: &str =
    "INSERT INTO activities(person_id, type_id, occurred_at, primary_value, attrs) \
                      VALUES (?1, ?2, ?3, ?4, ?5)";
// The reads select the same columns in the same order; `Sqlite::record` reads them.
const PERSON_LATEST: &str =
    "SELECT person_id, type_id, occurred_at, primary_value, attrs, seq FROM activities \
     WHERE person_id = ?1 ORDER BY occurred_at DESC, seq DESC LIMIT ?2";
const TYPE_RANGE: &str =
    "SELECT person_id, type_id, occurred_at, primary_value, attrs, seq FROM activities \
     WHERE type_id = ?1 AND occurred_at >= ?2 AND occurred_at < ?3 ORDER BY occurred_at, seq";
const REPLAY: &str =
    "SELECT person_id, type_id, occurred_at, primary_value, attrs, seq FROM activities \
     ORDER BY seq";

/// SQLite in WAL mode with the schema above.
#[derive(Debug)]
pub struct Sqlite {
    conn: Connection,
    path: PathBuf,
    attrs_buf: Vec<u8>,
}

impl Sqlite {
    /// Runs `sql` with `params` and visits every row as a full record.
    fn visit_rows(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        visit: &mut dyn FnMut(Record),
    ) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params)?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            visit(self.record(row)?);
            n += 1;
        }
        Ok(n)
    }

    fn record(&self, row: &Row<'_>) -> Result<Record> {
        let corrupt = |what: String| Error::Corrupt {
            file: self.path.clone(),
            // The rowid is the natural position; a failure to read it is itself reported.
            position: row.get::<_, i64>("seq").map_or(u64::MAX, |seq| seq as u64),
            what,
        };
        // Ids are stored as SQLite's signed 64-bit integers; the cast is a bijection.
        let person = row.get::<_, i64>(0)? as u64;
        let type_id = row.get::<_, i64>(1)?;
        let type_index = u32::try_from(type_id)
            .map_err(|_| corrupt(format!("type_id {type_id} out of range")))?;
        let occurred_at_ms = row.get::<_, i64>(2)?;
        let primary = row
            .get_ref(3)?
            .as_str()
            .map_err(|e| corrupt(e.to_string()))?
            .to_owned();
        let attrs = row
            .get_ref(4)?
            .as_blob()
            .map_err(|e| corrupt(e.to_string()))?;
        let attrs = decode_attrs(attrs).map_err(corrupt)?;
        Ok(Record {
            person,
            type_index,
            occurred_at_ms,
            primary,
            source: attrs.source,
            value: attrs.value,
            note: attrs.note,
        })
    }
}

impl BenchTarget for Sqlite {
    const NAME: &'static str = "sqlite";

    fn open(dir: &Path, durability: Durability) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("activities.sqlite");
        let conn = Connection::open(&path)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Setup {
                peer: Self::NAME,
                what: format!("journal_mode=WAL refused, got {mode}"),
            });
        }
        let synchronous = match durability {
            Durability::Always => "FULL",
            Durability::Never => "OFF",
        };
        conn.pragma_update(None, "synchronous", synchronous)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn,
            path,
            attrs_buf: Vec::with_capacity(256),
        })
    }

    fn ingest_batch(&mut self, batch: &[GenActivity<'_>]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(INSERT)?;
            for a in batch {
                self.attrs_buf.clear();
                encode_attrs(a, &mut self.attrs_buf)?;
                insert.execute(params![
                    a.person as i64,
                    a.type_index,
                    a.occurred_at_ms,
                    a.primary,
                    &self.attrs_buf[..],
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn person_latest(&mut self, person: u64, limit: usize) -> Result<Vec<Record>> {
        let mut out = Vec::with_capacity(limit.min(1_024));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.visit_rows(PERSON_LATEST, params![person as i64, limit], &mut |r| {
            out.push(r)
        })?;
        Ok(out)
    }

    fn type_range(
        &mut self,
        type_index: u32,
        from_ms: i64,
        to_ms: i64,
        visit: &mut dyn FnMut(Record),
    ) -> Result<u64> {
        self.visit_rows(TYPE_RANGE, params![type_index, from_ms, to_ms], visit)
    }

    fn replay(&mut self, visit: &mut dyn FnMut(Record)) -> Result<u64> {
        self.visit_rows(REPLAY, [], visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::conformance::ingest_then_read_back;

    #[test]
    fn ingest_then_read_back_always() {
        ingest_then_read_back::<Sqlite>(Durability::Always);
    }

    #[test]
    fn ingest_then_read_back_never() {
        ingest_then_read_back::<Sqlite>(Durability::Never);
    }

    /// The reads must use the indexes the schema provides, or the comparison is unfair
    /// to SQLite.
    #[test]
    fn reads_use_the_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let target = Sqlite::open(dir.path(), Durability::Never).unwrap();
        let plan = |sql: &str| -> String {
            let mut stmt = target
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let rows = stmt.query_map([], |row| row.get::<_, String>(3)).unwrap();
            rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("; ")
        };
        let person = plan(&PERSON_LATEST.replace("?1", "5").replace("?2", "100"));
        assert!(person.contains("idx_person"), "{person}");
        let range = plan(
            &TYPE_RANGE
                .replace("?1", "3")
                .replace("?2", "0")
                .replace("?3", "10"),
        );
        assert!(range.contains("idx_type"), "{range}");
    }
}
