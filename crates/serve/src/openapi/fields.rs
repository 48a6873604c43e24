//! The requests' descriptions (`ava_api::request`) as OpenAPI: a [`Field`]'s rule as
//! JSON Schema, a field as a query or path parameter, a body's fields as its object
//! schema. The server checks requests by these same `Field`s, so what the document
//! allows is what the server takes.

use ava_api::request::{Field, Location, Rule};
use serde_json::json;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{RefOr, Required};

use super::{of, reference};

/// The component name of [`json_value`].
pub(super) const JSON_VALUE: &str = "JsonValue";

/// `ty`, or `null` too.
fn typed(ty: Type, nullable: bool) -> ObjectBuilder {
    if nullable {
        of(SchemaType::from_iter([ty, Type::Null]))
    } else {
        of(ty)
    }
}

fn any() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .into()
}

/// The schema of a value following `rule` (`nullable`: `null` allowed too).
pub(super) fn rule(rule: &Rule, nullable: bool) -> RefOr<Schema> {
    match *rule {
        Rule::Text { max, blank } => typed(Type::String, nullable)
            .max_length(max)
            .min_length((!blank).then_some(1))
            .pattern(rule.regex())
            .into(),
        Rule::Pattern { max, .. } => typed(Type::String, nullable)
            .max_length(max)
            .pattern(rule.regex())
            .into(),
        Rule::OneOf(choices) => {
            let mut values: Vec<serde_json::Value> = choices.iter().map(|c| json!(c)).collect();
            if nullable {
                values.push(serde_json::Value::Null);
            }
            typed(Type::String, nullable)
                .enum_values(Some(values))
                .into()
        }
        Rule::Int(bounds) => typed(Type::Integer, nullable)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(bounds.min))
            .maximum(Some(bounds.max))
            .into(),
        Rule::Number { min, max } => typed(Type::Number, nullable)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)))
            .minimum(Some(min))
            .maximum(Some(max))
            .into(),
        Rule::Bool => typed(Type::Boolean, nullable).into(),
        Rule::DateTime => typed(Type::String, nullable)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .into(),
        Rule::TimeZone => {
            let mut values: Vec<serde_json::Value> = ava_api::request::time_zones()
                .into_iter()
                .map(|name| json!(name))
                .collect();
            if nullable {
                values.push(serde_json::Value::Null);
            }
            typed(Type::String, nullable)
                .enum_values(Some(values))
                .into()
        }
        // Its `null` is one of its values.
        Rule::Json => reference(JSON_VALUE),
        Rule::List => ArrayBuilder::new().items(any()).into(),
        Rule::FunctionCalls => ArrayBuilder::new()
            .items(
                of(Type::Object)
                    .property("function", of(Type::String))
                    .required("function"),
            )
            .into(),
    }
}

/// Any JSON without NUL in a string or a key (what `jsonb` stores): the schema of
/// [`Rule::Json`].
pub(super) fn json_value() -> Schema {
    let no_nul = ava_api::request::NO_NUL;
    AnyOfBuilder::new()
        .description(Some("Any JSON without NUL characters in its strings."))
        .item(of(Type::String).pattern(Some(no_nul)))
        .item(of(SchemaType::from_iter([
            Type::Number,
            Type::Boolean,
            Type::Null,
        ])))
        .item(ArrayBuilder::new().items(reference(JSON_VALUE)))
        .item(
            of(Type::Object)
                .additional_properties(Some(AdditionalProperties::RefOr(reference(JSON_VALUE))))
                .property_names(Some(of(Type::String).pattern(Some(no_nul)))),
        )
        .into()
}

/// `schema` with `description` (a reference stays as it is).
fn described(schema: RefOr<Schema>, description: &str) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            object.description = Some(description.into());
            RefOr::T(Schema::Object(object))
        }
        RefOr::T(Schema::Array(mut array)) => {
            array.description = Some(description.into());
            RefOr::T(Schema::Array(array))
        }
        other => other,
    }
}

/// `field` as a parameter `at` the query or the path.
pub(super) fn parameter(field: &Field, at: Location) -> Parameter {
    let mut parameter = Parameter::new(field.name);
    parameter.parameter_in = match at {
        Location::Path => ParameterIn::Path,
        Location::Query | Location::Body => ParameterIn::Query,
    };
    parameter.required = if at == Location::Path || field.required {
        Required::True
    } else {
        Required::False
    };
    parameter.description = Some(field.description.into());
    let default = match (field.rule, at) {
        (Rule::Int(bounds), Location::Query) => Some(json!(bounds.default)),
        _ => field.default.map(|d| json!(d)),
    };
    parameter.schema = Some(match rule(&field.rule, false) {
        RefOr::T(Schema::Object(object)) if default.is_some() => {
            let mut object = object;
            object.default = default;
            RefOr::T(Schema::Object(object))
        }
        other => other,
    });
    parameter
}

/// A body of `fields`: an object with exactly these (the optional ones may be left out
/// or `null`), no others.
pub(super) fn body(description: &str, fields: &[Field]) -> ObjectBuilder {
    fields.iter().fold(
        of(Type::Object)
            .description(Some(description))
            .additional_properties(Some(AdditionalProperties::FreeForm(false))),
        |object, field| {
            let schema = described(rule(&field.rule, !field.required), field.description);
            let object = object.property(field.name, schema);
            if field.required {
                object.required(field.name)
            } else {
                object
            }
        },
    )
}
