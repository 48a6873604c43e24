//! The SQL insert helper: prepared multi-row `INSERT`s of a table's catalog columns,
//! bound column by column in catalog order (text through one reused buffer).

use ava_catalog::Table;
use ava_convert::pyjson;
use rusqlite::types::{Null, ToSqlOutput, ValueRef};
use rusqlite::{Connection, Statement, ToSql};
use serde::Serialize;
use std::fmt::Display;
use std::io::Write as _;

/// Prepared `INSERT`s of all of a table's catalog columns, bound one column at a time
/// in catalog order through a single reused buffer (SQLite copies bound text). Rows can
/// go in batches of a known size, one multi-row statement each, which saves SQLite the
/// per-statement work for the many small event rows.
pub(crate) struct Insert<'c> {
    db: &'c Connection,
    table: &'static Table,
    /// `by_size[n - 1]` inserts n rows.
    by_size: Vec<Statement<'c>>,
    size: usize,
    bound: usize,
    pub(crate) pending: usize,
    pub(crate) rows: u64,
    buf: Vec<u8>,
}

/// Rows per multi-row `INSERT` where the count is known ahead.
pub(crate) const BATCH: usize = 64;

fn conversion(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

impl<'c> Insert<'c> {
    pub(crate) fn new(db: &'c Connection, table: &'static Table) -> rusqlite::Result<Self> {
        let mut insert = Self {
            db,
            table,
            by_size: Vec::new(),
            size: 0,
            bound: 0,
            pending: 0,
            rows: 0,
            buf: Vec::new(),
        };
        insert.batch(1)?;
        Ok(insert)
    }

    /// The next `n` rows go in one statement (then back to one at a time).
    pub(crate) fn batch(&mut self, n: usize) -> rusqlite::Result<()> {
        debug_assert_eq!(self.pending, 0);
        while self.by_size.len() < n {
            let marks = vec!["?"; self.table.columns.len()].join(", ");
            let rows = vec![format!("({marks})"); self.by_size.len() + 1].join(", ");
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {rows}",
                self.table.name,
                self.table.column_list()
            );
            self.by_size.push(self.db.prepare(&sql)?);
        }
        self.size = n;
        Ok(())
    }

    /// The id the next row gets: ids are 1..n in insertion order.
    pub(crate) fn next_id(&self) -> i64 {
        self.rows as i64 + 1
    }

    pub(crate) fn val(&mut self, v: impl ToSql) -> rusqlite::Result<&mut Self> {
        self.bound += 1;
        self.by_size[self.size - 1].raw_bind_parameter(self.bound, v)?;
        Ok(self)
    }

    fn bind_buf(&mut self) -> rusqlite::Result<&mut Self> {
        self.bound += 1;
        let text = ToSqlOutput::Borrowed(ValueRef::Text(&self.buf));
        self.by_size[self.size - 1].raw_bind_parameter(self.bound, text)?;
        Ok(self)
    }

    pub(crate) fn text(&mut self, v: impl Display) -> rusqlite::Result<&mut Self> {
        self.buf.clear();
        write!(self.buf, "{v}").map_err(conversion)?;
        self.bind_buf()
    }

    pub(crate) fn opt_text(&mut self, v: Option<impl Display>) -> rusqlite::Result<&mut Self> {
        match v {
            Some(v) => self.text(v),
            None => self.val(Null),
        }
    }

    pub(crate) fn json(&mut self, v: &impl Serialize) -> rusqlite::Result<&mut Self> {
        self.buf.clear();
        pyjson::dump(&mut self.buf, v).map_err(conversion)?;
        self.bind_buf()
    }

    /// Ends a row; runs the statement once the batch is complete.
    pub(crate) fn row(&mut self) -> rusqlite::Result<()> {
        self.rows += 1;
        self.pending += 1;
        if self.pending == self.size {
            let stmt = &mut self.by_size[self.size - 1];
            debug_assert_eq!(self.bound, stmt.parameter_count());
            stmt.raw_execute()?;
            (self.size, self.bound, self.pending) = (1, 0, 0);
        }
        Ok(())
    }
}
