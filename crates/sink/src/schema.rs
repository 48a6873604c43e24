//! The target schema check: the catalog compared with what Postgres reports.

use std::fmt;

use ava_catalog::{Kind, TABLES};
use postgres_types::Type;
use tokio_postgres::Client;

/// One difference between the catalog and the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// `table`, `table.column` or an index / constraint name.
    pub object: String,
    pub expected: String,
    pub found: String,
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, found {}",
            self.object, self.expected, self.found
        )
    }
}

/// Every difference between the catalog and the `public` schema of the target.
pub(crate) async fn problems(client: &Client) -> Result<Vec<SchemaProblem>, tokio_postgres::Error> {
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    // The three catalog queries at once, each typed (no preparing round trip): one
    // round trip in all, however far the server is.
    let names = [(
        &names as &(dyn tokio_postgres::types::ToSql + Sync),
        Type::TEXT_ARRAY,
    )];
    let (columns, indexes, fks) = futures_util::join!(
        client.query_typed(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                    pg_get_expr(d.adbin, d.adrelid), a.attidentity::text \
             FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY($1) \
               AND a.attnum > 0 AND NOT a.attisdropped",
            &names,
        ),
        client.query_typed(
            "SELECT t.relname, i.relname, x.indisunique, \
                    (SELECT string_agg(a.attname, ',') FROM pg_attribute a \
                      WHERE a.attrelid = t.oid AND a.attnum = ANY(x.indkey)) \
             FROM pg_index x \
             JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE n.nspname = 'public' AND t.relname = ANY($1)",
            &names,
        ),
        client.query_typed(
            "SELECT t.relname, a.attname, p.relname \
             FROM pg_constraint k \
             JOIN pg_class t ON t.oid = k.conrelid \
             JOIN pg_class p ON p.oid = k.confrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.conkey[1] \
             WHERE k.contype = 'f' AND n.nspname = 'public' AND t.relname = ANY($1) \
               AND cardinality(k.conkey) = 1",
            &names,
        ),
    );
    let (columns, indexes, fks) = (columns?, indexes?, fks?);

    let mut problems = Vec::new();
    let mut problem = |object: String, expected: String, found: String| {
        problems.push(SchemaProblem {
            object,
            expected,
            found,
        })
    };
    for table in &TABLES {
        let cols: Vec<_> = columns
            .iter()
            .filter(|r| r.get::<_, &str>(0) == table.name)
            .collect();
        if cols.is_empty() {
            problem(table.name.into(), "the table".into(), "nothing".into());
            continue;
        }
        for c in table.columns {
            let object = format!("{}.{}", table.name, c.name);
            let Some(row) = cols.iter().find(|r| r.get::<_, &str>(1) == c.name) else {
                problem(object, "the column".into(), "nothing".into());
                continue;
            };
            let ty: &str = row.get(2);
            if ty != c.kind.pg_type() {
                problem(object.clone(), c.kind.pg_type(), ty.into());
            }
            let not_null: bool = row.get(3);
            if not_null == c.nullable {
                let says = |n: bool| if n { "NOT NULL" } else { "nullable" }.to_string();
                problem(object.clone(), says(!c.nullable), says(not_null));
            }
            let identity: &str = row.get(5);
            let default: Option<&str> = row.get(4);
            if c.kind == Kind::Id {
                if identity.is_empty() {
                    problem(object.clone(), "an identity column".into(), "none".into());
                }
            } else if default != c.default {
                let show =
                    |d: Option<&str>| d.map_or("no default".into(), |d| format!("default {d}"));
                problem(object.clone(), show(c.default), show(default));
            }
        }
        for ix in table.indexes {
            let found = indexes
                .iter()
                .find(|r| r.get::<_, &str>(0) == table.name && r.get::<_, &str>(1) == ix.name);
            let expected = format!(
                "{}index on ({})",
                if ix.unique { "a unique " } else { "an " },
                ix.column
            );
            match found {
                None => problem(ix.name.into(), expected, "nothing".into()),
                // ava's own indexes are defined by its migrations; present is enough.
                Some(_) if !ix.app => {}
                Some(r) => {
                    let unique: bool = r.get(2);
                    let cols: Option<&str> = r.get(3);
                    if unique != ix.unique || cols != Some(ix.column) {
                        problem(
                            ix.name.into(),
                            expected,
                            format!("unique={unique} on ({})", cols.unwrap_or("?")),
                        );
                    }
                }
            }
        }
        for (column, parent) in table.foreign_keys() {
            let present = fks.iter().any(|r| {
                r.get::<_, &str>(0) == table.name
                    && r.get::<_, &str>(1) == column
                    && r.get::<_, &str>(2) == parent
            });
            if !present {
                problem(
                    format!("{}.{}", table.name, column),
                    format!("a foreign key to {parent}(id)"),
                    "none".into(),
                );
            }
        }
    }
    Ok(problems)
}
