//! What every list's query carries — the call log's and the customers' — with the same
//! names and bounds: a page from 1, its size, a search, an order and its direction. Each
//! list names what differs ([`List`]): its search's description, its orders, its
//! default direction.

use crate::request::{Bounds, Field, Query, Rule};
use crate::store::Param;

/// `page` of a list (no upper bound but what keeps the offset an integer).
pub const PAGE: Bounds = Bounds {
    default: 1,
    min: 1,
    max: i64::MAX / 100,
};
/// `page_size` of a list.
pub const PAGE_SIZE: Bounds = Bounds {
    default: 50,
    min: 1,
    max: 100,
};
const PAGE_FIELD: Field = Field::optional("page", Rule::Int(PAGE), "The page, from 1.");

/// The directions of a sort.
const ORDERS: [&str; 2] = ["asc", "desc"];

/// `sort_order`, going `default` ("asc" or "desc") when not given.
pub(super) const fn sort_order(description: &'static str, default: &'static str) -> Field {
    Field::optional("sort_order", Rule::OneOf(&ORDERS), description).or(default)
}

/// One list's query fields.
pub(super) struct List {
    /// `page_size`'s description.
    pub rows: &'static str,
    pub search: Field,
    pub sort_by: Field,
    pub sort_order: Field,
}

/// A list's query as read.
pub(super) struct Listed<'q> {
    pub page: i64,
    pub page_size: i64,
    pub search: Option<String>,
    /// The order's name (one the `sort_by` field allows, or its default).
    pub sort_by: &'q str,
    pub descending: bool,
}

impl List {
    pub fn page_size(&self) -> Field {
        Field::optional("page_size", Rule::Int(PAGE_SIZE), self.rows)
    }

    pub fn fields(&self) -> Vec<Field> {
        vec![
            PAGE_FIELD,
            self.page_size(),
            self.search,
            self.sort_by,
            self.sort_order,
        ]
    }

    pub fn read<'q>(&self, query: &'q Query) -> Listed<'q> {
        Listed {
            page: query.int(&PAGE_FIELD),
            page_size: query.int(&self.page_size()),
            search: query.text(&self.search).map(str::to_string),
            sort_by: query.text(&self.sort_by).unwrap_or_default(),
            descending: query.text(&self.sort_order) == Some("desc"),
        }
    }
}

/// The key a list's total is remembered under (`Store::count`, `Totals`): what it
/// counts and with which parameters.
pub(super) fn total_key(counted: &str, params: &[Param]) -> String {
    format!("{counted}{params:?}")
}

/// How many pages of `page_size` hold `total` rows.
pub(super) fn total_pages(total: i64, page_size: i64) -> i64 {
    (total + page_size - 1) / page_size
}
