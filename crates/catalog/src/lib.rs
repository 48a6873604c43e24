//! The table catalog: the one description of the five analytics tables.
//!
//! Everything else in ava derives from [`TABLES`]: the source reader selects these
//! columns by name, the converter picks a rule per [`Kind`], the Postgres sink checks
//! the target schema against it and builds its `COPY` statements from it, the
//! verifier canonicalises rows column by column from it, and the seed generator fills
//! it. Nothing about a table is restated elsewhere; the hand-written migration SQL in
//! `supabase/migrations/` is checked against this catalog by the sink's schema check
//! (and by the tests), and the app's exact SQLite DDL ([`SQLITE_DDL`]) is checked
//! against it by this crate's tests.

pub mod daily;

/// More columns than any table has (checked by a test): readers keep a row in a
/// fixed array of this size instead of allocating one per row.
pub const MAX_COLUMNS: usize = 24;

/// The exact DDL the app's SQLAlchemy models create in SQLite (`create_all`).
pub const SQLITE_DDL: &str = include_str!("source-schema.sqlite.sql");

/// How a column is typed on the Postgres side, which also fixes how a SQLite cell is
/// converted and how a value is canonicalised for checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `bigint` identity primary key (`INTEGER` in SQLite).
    Id,
    /// `bigint` foreign key to another table's [`Kind::Id`].
    Ref(&'static str),
    /// `integer` (SQLAlchemy `Integer`).
    Int,
    /// `double precision` (SQLAlchemy `Float`).
    Float,
    /// `boolean`; SQLite stores 0 / 1.
    Bool,
    /// `timestamp with time zone`; SQLite stores text, naive values are UTC.
    Timestamp,
    /// `character varying(n)`: at most n characters.
    Varchar(u32),
    /// `text`, unbounded.
    Text,
    /// `jsonb`; SQLite stores `json.dumps` text (JSON `null` for Python `None`).
    Json,
}

impl Kind {
    /// The type as Postgres' `format_type()` names it.
    pub fn pg_type(self) -> String {
        match self {
            Kind::Id | Kind::Ref(_) => "bigint".into(),
            Kind::Int => "integer".into(),
            Kind::Float => "double precision".into(),
            Kind::Bool => "boolean".into(),
            Kind::Timestamp => "timestamp with time zone".into(),
            Kind::Varchar(n) => format!("character varying({n})"),
            Kind::Text => "text".into(),
            Kind::Json => "jsonb".into(),
        }
    }

    /// Whether the column holds text on both sides (an empty string is a value there,
    /// never a stand-in for NULL).
    pub fn is_text(self) -> bool {
        matches!(self, Kind::Varchar(_) | Kind::Text)
    }
}

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    /// The server-side default, spelled as Postgres' `pg_get_expr` prints it back; the
    /// models' Python-side defaults, made server-side so other writers get them too.
    pub default: Option<&'static str>,
}

/// An index: one the app's models declare (`index=True` / `unique=True`), on both
/// sides, or one ava adds on Postgres only (a later migration: what the app's schema
/// lacks for deletes and reads by a foreign key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub column: &'static str,
    pub unique: bool,
    /// Declared by the app's models (and so in its SQLite file); `false`: Postgres only.
    pub app: bool,
    /// What the index holds (the app's are all [`Shape::Column`]).
    pub shape: Shape,
}

/// What an index holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A B-tree on the column.
    Column,
    /// A B-tree on (the column, id): pages of rows in the column's order, ties by id.
    ThenId,
    /// A trigram GIN index on the case-folded column (`pg_trgm`): substring search.
    Trigram,
    /// A B-tree on (the column, started_at, id): the rows of one parent in the call
    /// log's order.
    ThenStartedAtId,
    /// A B-tree on (the column descending with NULLs last, id descending): the call log
    /// in descending order with the calls that lack the value after all others. Postgres
    /// only: SQLite reads that order from the [`Shape::ThenId`] index backwards (it
    /// holds NULLs first).
    ThenIdDescNullsLast,
    /// A B-tree on (the text column compared byte by byte, id): on Postgres
    /// `COLLATE "C"`, the order SQLite's default `BINARY` collation gives, so a list
    /// sorted by it is the same on both stores.
    BytewiseThenId,
}

/// One table: its columns in the app's declared order, and its indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    pub indexes: &'static [Index],
}

impl Table {
    /// The column named `name`, if the table has it.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Position of the primary key (always `id`, always first).
    pub const ID: usize = 0;

    /// Column names joined with `, ` and quoted for SQL, in catalog order.
    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The foreign keys as `(column, parent table)`.
    pub fn foreign_keys(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.columns.iter().filter_map(|c| match c.kind {
            Kind::Ref(parent) => Some((c.name, parent)),
            _ => None,
        })
    }
}

/// A range of ids `(after, through]`; `None` leaves that side open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdRange {
    pub after: Option<i64>,
    pub through: Option<i64>,
}

impl IdRange {
    /// Every row.
    pub const ALL: IdRange = IdRange {
        after: None,
        through: None,
    };

    /// The ids `first..=last`.
    pub fn inclusive(first: i64, last: i64) -> IdRange {
        IdRange {
            after: first.checked_sub(1),
            through: Some(last),
        }
    }

    /// The SQL condition selecting this range (`TRUE` when open on both sides); the
    /// same text works in SQLite and Postgres.
    pub fn condition(&self) -> String {
        match (self.after, self.through) {
            (None, None) => "TRUE".into(),
            (Some(a), None) => format!("id > {a}"),
            (None, Some(t)) => format!("id <= {t}"),
            (Some(a), Some(t)) => format!("id > {a} AND id <= {t}"),
        }
    }
}

/// The table named `name`, if it is one of the five.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// `customers`: [`TABLES`]`[0]`. The five constants name the tables in code, so that a
/// typo is a compile error rather than a [`table`] lookup that finds nothing.
pub static CUSTOMERS: &Table = &TABLES[0];
/// `appointments`: [`TABLES`]`[1]`.
pub static APPOINTMENTS: &Table = &TABLES[1];
/// `call_sessions`: [`TABLES`]`[2]`.
pub static CALL_SESSIONS: &Table = &TABLES[2];
/// `call_events`: [`TABLES`]`[3]`.
pub static CALL_EVENTS: &Table = &TABLES[3];
/// `daily_metrics`: [`TABLES`]`[4]`.
pub static DAILY_METRICS: &Table = &TABLES[4];

const fn col(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: true,
        default: None,
    }
}

const fn req(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: false,
        default: None,
    }
}

const fn def(name: &'static str, kind: Kind, default: &'static str) -> Column {
    Column {
        name,
        kind,
        nullable: true,
        default: Some(default),
    }
}

const fn ix(name: &'static str, column: &'static str) -> Index {
    Index {
        name,
        column,
        unique: false,
        app: true,
        shape: Shape::Column,
    }
}

const fn uq(name: &'static str, column: &'static str) -> Index {
    Index {
        name,
        column,
        unique: true,
        app: true,
        shape: Shape::Column,
    }
}

/// An index ava adds on Postgres (migrations `…_foreign_key_indexes.sql`,
/// `…_api_indexes.sql`, `…_customer_calls_index.sql`, `…_call_log_nulls_last.sql`,
/// `…_customer_list_indexes.sql`).
const fn pg_ix(name: &'static str, column: &'static str, shape: Shape) -> Index {
    Index {
        name,
        column,
        unique: false,
        app: false,
        shape,
    }
}

const NOW: &str = "now()";

/// The five tables in foreign-key (load) order: every parent before its children.
pub static TABLES: [Table; 5] = [
    Table {
        name: "customers",
        columns: &[
            req("id", Kind::Id),
            req("name", Kind::Varchar(255)),
            req("phone", Kind::Varchar(20)),
            col("email", Kind::Varchar(255)),
            def("is_new_client", Kind::Bool, "true"),
            def("created_at", Kind::Timestamp, NOW),
            def("updated_at", Kind::Timestamp, NOW),
            def("has_allergies", Kind::Bool, "false"),
            def("is_pregnant", Kind::Bool, "false"),
            col("notes", Kind::Text),
        ],
        indexes: &[
            uq("ix_customers_email", "email"),
            uq("ix_customers_phone", "phone"),
            ix("ix_customers_id", "id"),
            pg_ix("ix_customers_name_fold_trgm", "name", Shape::Trigram),
            pg_ix("ix_customers_phone_fold_trgm", "phone", Shape::Trigram),
            pg_ix("ix_customers_name_id", "name", Shape::BytewiseThenId),
            pg_ix("ix_customers_created_at_id", "created_at", Shape::ThenId),
            pg_ix(
                "ix_customers_created_at_desc_id",
                "created_at",
                Shape::ThenIdDescNullsLast,
            ),
        ],
    },
    Table {
        name: "appointments",
        columns: &[
            req("id", Kind::Id),
            req("customer_id", Kind::Ref("customers")),
            col("calendar_event_id", Kind::Varchar(255)),
            req("appointment_datetime", Kind::Timestamp),
            req("service_type", Kind::Varchar(100)),
            col("provider", Kind::Varchar(100)),
            def("duration_minutes", Kind::Int, "60"),
            def(
                "status",
                Kind::Varchar(50),
                "'scheduled'::character varying",
            ),
            def("booked_by", Kind::Varchar(50), "'ai'::character varying"),
            col("special_requests", Kind::Text),
            col("cancellation_reason", Kind::Text),
            def("created_at", Kind::Timestamp, NOW),
            def("updated_at", Kind::Timestamp, NOW),
            col("cancelled_at", Kind::Timestamp),
        ],
        indexes: &[
            ix("ix_appointments_id", "id"),
            ix("ix_appointments_status", "status"),
            uq("ix_appointments_calendar_event_id", "calendar_event_id"),
            ix(
                "ix_appointments_appointment_datetime",
                "appointment_datetime",
            ),
            pg_ix("ix_appointments_customer_id", "customer_id", Shape::Column),
        ],
    },
    Table {
        name: "call_sessions",
        columns: &[
            req("id", Kind::Id),
            col("customer_id", Kind::Ref("customers")),
            req("session_id", Kind::Varchar(255)),
            col("phone_number", Kind::Varchar(20)),
            def("started_at", Kind::Timestamp, NOW),
            col("ended_at", Kind::Timestamp),
            col("duration_seconds", Kind::Int),
            col("transcript", Kind::Text),
            col("recording_url", Kind::Varchar(500)),
            col("satisfaction_score", Kind::Float),
            col("sentiment", Kind::Varchar(50)),
            col("outcome", Kind::Varchar(50)),
            def("customer_interruptions", Kind::Int, "0"),
            def("ai_clarifications_needed", Kind::Int, "0"),
            def("function_calls_made", Kind::Int, "0"),
            def("escalated", Kind::Bool, "false"),
            col("escalation_reason", Kind::Text),
        ],
        indexes: &[
            ix("ix_call_sessions_id", "id"),
            ix("ix_call_sessions_phone_number", "phone_number"),
            uq("ix_call_sessions_session_id", "session_id"),
            ix("ix_call_sessions_started_at", "started_at"),
            pg_ix(
                "ix_call_sessions_customer_id_started_at_id",
                "customer_id",
                Shape::ThenStartedAtId,
            ),
            pg_ix(
                "ix_call_sessions_phone_number_fold_trgm",
                "phone_number",
                Shape::Trigram,
            ),
            pg_ix(
                "ix_call_sessions_started_at_id",
                "started_at",
                Shape::ThenId,
            ),
            pg_ix(
                "ix_call_sessions_duration_seconds_id",
                "duration_seconds",
                Shape::ThenId,
            ),
            pg_ix(
                "ix_call_sessions_satisfaction_score_id",
                "satisfaction_score",
                Shape::ThenId,
            ),
            pg_ix(
                "ix_call_sessions_started_at_desc_id",
                "started_at",
                Shape::ThenIdDescNullsLast,
            ),
            pg_ix(
                "ix_call_sessions_duration_seconds_desc_id",
                "duration_seconds",
                Shape::ThenIdDescNullsLast,
            ),
            pg_ix(
                "ix_call_sessions_satisfaction_score_desc_id",
                "satisfaction_score",
                Shape::ThenIdDescNullsLast,
            ),
        ],
    },
    Table {
        name: "call_events",
        columns: &[
            req("id", Kind::Id),
            req("call_session_id", Kind::Ref("call_sessions")),
            req("event_type", Kind::Varchar(100)),
            def("timestamp", Kind::Timestamp, NOW),
            col("data", Kind::Json),
        ],
        indexes: &[
            ix("ix_call_events_timestamp", "timestamp"),
            ix("ix_call_events_id", "id"),
            ix("ix_call_events_event_type", "event_type"),
            pg_ix(
                "ix_call_events_call_session_id",
                "call_session_id",
                Shape::Column,
            ),
        ],
    },
    Table {
        name: "daily_metrics",
        columns: &[
            req("id", Kind::Id),
            req("date", Kind::Timestamp),
            def("total_calls", Kind::Int, "0"),
            def("total_talk_time_seconds", Kind::Int, "0"),
            def("avg_call_duration_seconds", Kind::Int, "0"),
            def("appointments_booked", Kind::Int, "0"),
            def("appointments_rescheduled", Kind::Int, "0"),
            def("appointments_cancelled", Kind::Int, "0"),
            def("avg_satisfaction_score", Kind::Float, "0.0"),
            def("calls_escalated", Kind::Int, "0"),
            def("conversion_rate", Kind::Float, "0.0"),
            def("updated_at", Kind::Timestamp, NOW),
        ],
        indexes: &[
            uq("ix_daily_metrics_date", "date"),
            ix("ix_daily_metrics_id", "id"),
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// The catalog restates nothing the app's DDL disagrees with: same tables, same
    /// columns in the same order, same NOT NULLs, same indexes and foreign keys.
    #[test]
    fn catalog_matches_the_apps_sqlite_ddl() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(SQLITE_DDL).unwrap();
        let mut names: Vec<String> = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut ours: Vec<String> = TABLES.iter().map(|t| t.name.to_string()).collect();
        names.sort();
        ours.sort();
        assert_eq!(names, ours);

        for t in &TABLES {
            let cols: Vec<(String, String, bool)> = db
                .prepare(&format!("PRAGMA table_info({})", t.name))
                .unwrap()
                .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? == 1)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(cols.len(), t.columns.len(), "{}", t.name);
            for ((name, ty, notnull), c) in cols.iter().zip(t.columns) {
                assert_eq!(name, c.name, "{}", t.name);
                assert_eq!(*notnull, !c.nullable, "{}.{}", t.name, c.name);
                let expected = match c.kind {
                    Kind::Id | Kind::Ref(_) | Kind::Int => "INTEGER".to_string(),
                    Kind::Float => "FLOAT".into(),
                    Kind::Bool => "BOOLEAN".into(),
                    Kind::Timestamp => "DATETIME".into(),
                    Kind::Varchar(n) => format!("VARCHAR({n})"),
                    Kind::Text => "TEXT".into(),
                    Kind::Json => "JSON".into(),
                };
                assert_eq!(*ty, expected, "{}.{}", t.name, c.name);
            }

            let mut idx: Vec<(String, bool, String)> = db
                .prepare(&format!(
                    "SELECT il.name, il.\"unique\", ii.name FROM pragma_index_list('{0}') il, \
                     pragma_index_info(il.name) ii WHERE il.origin = 'c'",
                    t.name
                ))
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? == 1, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let mut want: Vec<(String, bool, String)> = t
                .indexes
                .iter()
                .filter(|i| i.app)
                .map(|i| (i.name.to_string(), i.unique, i.column.to_string()))
                .collect();
            idx.sort();
            want.sort();
            assert_eq!(idx, want, "{}", t.name);

            let mut fks: Vec<(String, String)> = db
                .prepare(&format!("PRAGMA foreign_key_list({})", t.name))
                .unwrap()
                .query_map([], |r| Ok((r.get(3)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let mut want: Vec<(String, String)> = t
                .foreign_keys()
                .map(|(c, p)| (c.to_string(), p.to_string()))
                .collect();
            fks.sort();
            want.sort();
            assert_eq!(fks, want, "{}", t.name);
        }
    }

    #[test]
    fn each_table_constant_is_the_table_it_names() {
        let constants = [
            (CUSTOMERS, "customers"),
            (APPOINTMENTS, "appointments"),
            (CALL_SESSIONS, "call_sessions"),
            (CALL_EVENTS, "call_events"),
            (DAILY_METRICS, "daily_metrics"),
        ];
        for (constant, name) in constants {
            assert_eq!(constant.name, name);
            assert!(std::ptr::eq(constant, table(name).unwrap()), "{name}");
        }
        assert_eq!(constants.len(), TABLES.len());
    }

    #[test]
    fn every_table_fits_a_row_buffer() {
        assert!(TABLES.iter().all(|t| t.columns.len() <= MAX_COLUMNS));
    }

    #[test]
    fn tables_are_in_dependency_order() {
        for (i, t) in TABLES.iter().enumerate() {
            assert_eq!(t.columns[Table::ID].name, "id");
            assert_eq!(t.columns[Table::ID].kind, Kind::Id);
            for (_, parent) in t.foreign_keys() {
                let p = TABLES.iter().position(|x| x.name == parent).unwrap();
                assert!(p < i, "{} must load after {parent}", t.name);
            }
        }
    }
}
