//! The API described for programs and people, as FastAPI serves it: `GET /openapi.json`
//! (OpenAPI 3.1) and `GET /docs` (Swagger UI, its files compiled in: the page works
//! offline). Both are open, whatever tokens are configured.
//!
//! The description is built from the code rather than restating it: a row's schema comes
//! from the catalog ([`ava_catalog::TABLES`]: each column's kind as a JSON type,
//! `varchar(n)` as `maxLength`, nullability), with the columns the read routes select
//! (`ava_api::read::LIST_COLUMNS`, `DETAIL_COLUMNS`, `DAILY_COLUMNS`, every column for
//! customers, appointments and events). Every parameter and request body comes from
//! the descriptions the server checks requests by (`ava_api::request::Field`s, through
//! [`fields`]); the errors are in the shapes of [`crate::AppError`], and every status
//! the server can send is listed.
//!
//! - [`schemas`]: the components (rows, answers, bodies, errors);
//! - [`paths`]: the operations, their parameters, guards and responses;
//! - [`fields`]: a request `Field` as JSON Schema and as a parameter.

mod fields;
mod paths;
mod schemas;

use ava_catalog::{Column, Kind, Table};
use axum::Router;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Tag};
use utoipa_swagger_ui::{Config, SwaggerUi};

use paths::paths;
use schemas::components;

/// Where the description and the page are served.
const SPEC_PATH: &str = "/openapi.json";
const DOCS_PATH: &str = "/docs";

/// The security schemes: the two bearer tokens, and a Supabase login's JWT (which the
/// admin routes take instead of the admin token).
const ADMIN: &str = "AdminToken";
const INGEST: &str = "IngestToken";
const SUPABASE: &str = "SupabaseJWT";

/// `GET /openapi.json` and `GET /docs` (which redirects to `/docs/`, the page and its
/// files); no guard.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    SwaggerUi::new(DOCS_PATH)
        .url(SPEC_PATH, document())
        // `validatorUrl: none`: the page would otherwise ask a public validator.
        .config(
            Config::default()
                .validator_url("none")
                .persist_authorization(true)
                .display_request_duration(true),
        )
        .into()
}

/// The whole description.
fn document() -> OpenApi {
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("ava")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The med spa voice AI's analytics: the admin API the dashboard reads (the \
                     original FastAPI backend's routes and JSON) and the write API the voice \
                     service records calls with.\n\n\
                     Admin routes need `Authorization: Bearer <ADMIN_API_TOKEN>` or, when \
                     Supabase logins are configured (`--jwt-secret` / `--jwks`), \
                     `Bearer <a Supabase access token>` whose `app_metadata.role` is `staff` or \
                     `owner` (401 for a bad token, 403 for a valid one without that role); write \
                     routes need `Bearer <INGEST_API_TOKEN>`. Every route is guarded unless \
                     the server runs with `--insecure-open` (loopback only). `/health`, \
                     `/config.json`, `/openapi.json` and `/docs` are always open.\n\n\
                     A request is refused (422, `detail` naming it) when a parameter or body \
                     field breaks the rules published here — an unknown one included; a \
                     repeated query parameter takes its last value. Every error is \
                     `{\"detail\": …}` JSON. API answers carry `Cache-Control: no-store`.\n\n\
                     Timestamps are ISO 8601 in UTC with microseconds and `Z`.",
                )),
        )
        .paths(paths())
        .components(Some(components()))
        .tags(Some([
            tag(
                "admin",
                "What the dashboard reads (admin token or Supabase JWT).",
            ),
            tag("ingest", "What the voice service records (ingest token)."),
            tag("health", "Whether the server and its store answer (open)."),
            tag(
                "dashboard",
                "What the dashboard page needs to sign in (open).",
            ),
        ]))
        .build()
}

fn tag(name: &str, description: &str) -> Tag {
    let mut tag = Tag::new(name);
    tag.description = Some(description.into());
    tag
}

// ---- schemas ----------------------------------------------------------------------

fn reference(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

fn of(ty: impl Into<SchemaType>) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(ty)
}

fn array(items: RefOr<Schema>) -> RefOr<Schema> {
    ArrayBuilder::new().items(items).into()
}

/// `schema` or `null`.
fn or_null(schema: RefOr<Schema>) -> RefOr<Schema> {
    OneOfBuilder::new().item(schema).item(of(Type::Null)).into()
}

/// An object whose every field is always sent.
fn object(description: &str, fields: Vec<(&str, RefOr<Schema>)>) -> ObjectBuilder {
    fields.into_iter().fold(
        of(Type::Object).description(Some(description)),
        |object, (name, schema)| object.property(name, schema).required(name),
    )
}

fn described(ty: Type, description: &str) -> RefOr<Schema> {
    of(ty).description(Some(description)).into()
}

/// A column as JSON Schema, by its catalog kind (what `ava_api::json` sends for it).
fn column(column: &Column) -> RefOr<Schema> {
    let (ty, format, max_length, description) = match column.kind {
        Kind::Id => (Type::Integer, Some(KnownFormat::Int64), None, None),
        Kind::Ref(parent) => (
            Type::Integer,
            Some(KnownFormat::Int64),
            None,
            Some(format!("The id of a row of `{parent}`.")),
        ),
        Kind::Int => (Type::Integer, Some(KnownFormat::Int32), None, None),
        Kind::Float => (Type::Number, Some(KnownFormat::Double), None, None),
        Kind::Bool => (Type::Boolean, None, None, None),
        Kind::Timestamp => (
            Type::String,
            Some(KnownFormat::DateTime),
            None,
            Some("UTC, e.g. `2025-08-25T11:49:59.721052Z`.".to_string()),
        ),
        Kind::Varchar(n) => (Type::String, None, Some(n as usize), None),
        Kind::Text => (Type::String, None, None, None),
        // Any JSON, `null` included.
        Kind::Json => {
            return ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .description(Some("Any JSON, as the app wrote it."))
                .into()
        }
    };
    let ty: SchemaType = if column.nullable {
        [ty, Type::Null].into_iter().collect()
    } else {
        ty.into()
    };
    ObjectBuilder::new()
        .schema_type(ty)
        .format(format.map(SchemaFormat::KnownFormat))
        .max_length(max_length)
        .description(description)
        .into()
}

/// A row of `table` as the API sends it: the columns named in `columns`, in that order,
/// each always present (`null` when it holds none).
fn row(table: &'static Table, columns: &[&str], description: &str) -> ObjectBuilder {
    let fields = columns
        .iter()
        .filter_map(|name| table.column(name))
        .map(|c| (c.name, column(c)))
        .collect();
    object(description, fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ava_api::json::all_columns;
    use ava_api::read::{DAILY_COLUMNS, DETAIL_COLUMNS};
    use ava_catalog::{APPOINTMENTS, CALL_EVENTS, CUSTOMERS};
    use serde_json::json;

    /// Every column a row schema names is in the catalog: a column list and the catalog
    /// cannot drift apart silently.
    #[test]
    fn row_schemas_have_every_listed_column() {
        let spec = serde_json::to_value(document()).unwrap_or_default();
        let schemas = &spec["components"]["schemas"];
        for (schema, columns) in [
            ("CallSummary", ava_api::read::list_keys()),
            ("Call", DETAIL_COLUMNS.to_vec()),
            ("Customer", all_columns(CUSTOMERS)),
            ("Appointment", all_columns(APPOINTMENTS)),
            ("CallEvent", all_columns(CALL_EVENTS)),
        ] {
            // `required` keeps the order (a `Value`'s keys are sorted).
            assert_eq!(schemas[schema]["required"], json!(columns), "{schema}");
            let mut names: Vec<&str> = schemas[schema]["properties"]
                .as_object()
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let mut columns = columns;
            names.sort_unstable();
            columns.sort_unstable();
            assert_eq!(names, columns, "{schema}");
            assert!(!columns.is_empty(), "{schema}");
        }
        let day = &schemas["DailyMetric"]["properties"];
        for c in DAILY_COLUMNS {
            assert!(day.get(c).is_some(), "DailyMetric.{c}");
        }
    }
}
