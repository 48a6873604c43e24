//! What kind of failure an error is: the one vocabulary the library errors of the
//! commands (`ava_migrations::SchemaError`, `ava_migrate::MigrateError`,
//! `ava_export::ExportError`) sort themselves into with their `kind()`, and from which
//! the CLI picks its exit code in one place (README's exit-code table).
//!
//! It lives in this crate, the lowest one every such library depends on.

use ava_sink::SinkError;

use crate::SchemaError;

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Anything else: connection, I/O, a file that is not the app's database, a failed
    /// copy.
    Failed,
    /// Refused, the target or the file left as they were: the target holds other rows,
    /// rows of an interrupted run, another run is busy, a file exists.
    Refused,
    /// The SQLite file has cells that cannot be stored faithfully.
    BadInput,
    /// The target's schema is not current, or differs from the catalog.
    Schema,
}

impl ErrorKind {
    /// The kind of a [`SinkError`]: a schema that differs from the catalog is
    /// [`ErrorKind::Schema`], anything else [`ErrorKind::Failed`].
    pub fn of_sink(e: &SinkError) -> ErrorKind {
        match e {
            SinkError::Schema { .. } => ErrorKind::Schema,
            _ => ErrorKind::Failed,
        }
    }
}

impl SchemaError {
    /// Not current, or differing from the catalog: [`ErrorKind::Schema`]; anything else
    /// (the database failed, a history this build does not account for, a migration
    /// that failed): [`ErrorKind::Failed`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            SchemaError::NotCurrent { .. } => ErrorKind::Schema,
            SchemaError::Target(e) => ErrorKind::of_sink(e),
            SchemaError::Database { .. }
            | SchemaError::Unknown { .. }
            | SchemaError::Changed { .. }
            | SchemaError::Apply { .. } => ErrorKind::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_schema_that_is_not_current_or_differs_is_a_schema_error() {
        let not_current = SchemaError::NotCurrent {
            url: "postgres://db".into(),
            what: "1 pending".into(),
        };
        assert_eq!(not_current.kind(), ErrorKind::Schema);
        assert_eq!(
            SchemaError::Unknown {
                versions: vec!["20990101000000".into()]
            }
            .kind(),
            ErrorKind::Failed
        );
        assert_eq!(
            SchemaError::Changed {
                versions: vec!["20240101000000".into()]
            }
            .kind(),
            ErrorKind::Failed
        );
    }

    #[test]
    fn a_schema_that_differs_from_the_catalog_is_a_schema_error_wherever_it_comes_from() {
        let differs = || SinkError::Schema {
            url: "postgres://db".into(),
            problems: Vec::new(),
        };
        assert_eq!(ErrorKind::of_sink(&differs()), ErrorKind::Schema);
        assert_eq!(SchemaError::Target(differs()).kind(), ErrorKind::Schema);
        let refused = SinkError::Connection(ava_sink::ConnectError::TransactionPooler {
            url: "postgres://db".into(),
            session_url: "postgres://db:5432".into(),
        });
        assert_eq!(ErrorKind::of_sink(&refused), ErrorKind::Failed);
    }
}
