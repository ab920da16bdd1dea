//! Many rows of one table written by one statement: a bulk import's customers, consent
//! history and events. The rows are given column by column ([`Rows`]), because that is what
//! Postgres takes best: one array per column, unnested into the table
//! (`INSERT … SELECT * FROM UNNEST($1::bigint[], …)`), a statement of a few parameters whose
//! text never changes, so it is prepared once per connection. Measured on 200,000 imported
//! customers, that costs Postgres about a third less than multi-row `VALUES` lists of
//! thousands of parameters, which Postgres parses, plans and binds anew for each batch. SQLite
//! has no arrays: it gets multi-row `VALUES` lists of positional `?`s (see `placeholders.rs`).
//! Each backend implements [`Backend::insert_rows`](super::backend::Backend::insert_rows).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The values of one column, one per row.
pub enum Column<'a> {
    /// `BIGINT` (and `INTEGER`) values.
    Int(Vec<Option<i64>>),
    /// Text.
    Text(Vec<Option<Cow<'a, str>>>),
    /// Booleans.
    Bool(Vec<bool>),
    /// Timestamps.
    Time(Vec<Option<DateTime<Utc>>>),
    /// JSON documents (`JSONB` on Postgres, text on SQLite, as a bound `Json` is stored).
    Json(Vec<Option<&'a Value>>),
}

impl Column<'_> {
    fn len(&self) -> usize {
        match self {
            Column::Int(v) => v.len(),
            Column::Text(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Time(v) => v.len(),
            Column::Json(v) => v.len(),
        }
    }
}

/// Rows for one table, column by column: every column holds a value for each row.
pub struct Rows<'a> {
    /// The table.
    pub table: &'static str,
    /// Each column's name and values, in the order they are given.
    pub columns: Vec<(&'static str, Column<'a>)>,
}

impl Rows<'_> {
    /// How many rows (that of the first column; [`Rows::check`] holds the others to it).
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every column has as many values as there are rows (a mistake in the caller, never the
    /// data; caught before anything is written).
    pub fn check(&self) -> Result<(), super::StoreError> {
        let n = self.len();
        match self.columns.iter().find(|(_, c)| c.len() != n) {
            Some((name, c)) => Err(super::StoreError::Corrupt(format!(
                "{}.{name}: {} values for {n} rows",
                self.table,
                c.len()
            ))),
            None => Ok(()),
        }
    }

    /// `a, b, c`: the column list of the insert.
    pub fn names(&self) -> String {
        self.columns
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Whether an insert's tail returns the inserted ids (`… RETURNING id`).
pub fn returns_ids(tail: &str) -> bool {
    tail.contains("RETURNING")
}
