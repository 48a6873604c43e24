//! A value of a catalog column decoded from Postgres' binary format.

use std::borrow::Cow;
use std::error::Error;

use ava_convert::Value;
use postgres_protocol::types as pg;
use postgres_types::{FromSql, Type};

/// Microseconds from the Unix epoch to Postgres' epoch, 2000-01-01T00:00:00Z.
pub const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A target value decoded from Postgres' binary format (COPY output, or a query's row:
/// `row.try_get::<_, PgValue>(i)`), for the column types the catalog uses.
pub struct PgValue<'a>(pub Value<'a>);

impl<'a> FromSql<'a> for PgValue<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(PgValue(match *ty {
            Type::INT8 => Value::Int(pg::int8_from_sql(raw)?),
            Type::INT4 => Value::Int(i64::from(pg::int4_from_sql(raw)?)),
            Type::FLOAT8 => Value::Float(pg::float8_from_sql(raw)?),
            Type::BOOL => Value::Bool(pg::bool_from_sql(raw)?),
            // `infinity` is i64::MAX on the wire: an error, not an overflow.
            Type::TIMESTAMPTZ => Value::Timestamp(
                pg::timestamp_from_sql(raw)?
                    .checked_add(PG_EPOCH_MICROS)
                    .ok_or("timestamp out of range (infinity)")?,
            ),
            Type::JSONB => match raw.split_first() {
                Some((1, text)) => Value::Json(Cow::Borrowed(std::str::from_utf8(text)?)),
                _ => return Err("unsupported jsonb binary version".into()),
            },
            _ => Value::Text(Cow::Borrowed(pg::text_from_sql(raw)?)),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(PgValue(Value::Null))
    }

    fn accepts(ty: &Type) -> bool {
        [
            Type::INT8,
            Type::INT4,
            Type::FLOAT8,
            Type::BOOL,
            Type::TIMESTAMPTZ,
            Type::JSONB,
            Type::VARCHAR,
            Type::TEXT,
        ]
        .contains(ty)
    }
}
