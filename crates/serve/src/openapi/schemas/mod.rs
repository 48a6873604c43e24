//! The components: the security schemes, rows from the catalog (`rows`), the answers
//! built of them (`answers`), the request bodies from their fields, and the errors.

mod answers;
mod rows;

use ava_api::request::Body;
use ava_api::write::{CallEnd, NewCall, NewCustomer, NewEvent};
use utoipa::openapi::schema::{ArrayBuilder, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, ComponentsBuilder};

use super::{array, fields, object, of, reference, ADMIN, INGEST, SUPABASE};

/// The document's components: security schemes, rows, answers, bodies and errors.
pub(super) fn components() -> Components {
    let bearer = |description: &str| {
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(description))
                .build(),
        )
    };
    let components = ComponentsBuilder::new()
        .security_scheme(
            ADMIN,
            bearer("`ADMIN_API_TOKEN`: the admin routes (or a Supabase JWT)."),
        )
        .security_scheme(
            SUPABASE,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A Supabase Auth access token (`POST <supabase_url>/auth/v1/token`), \
                         checked for its signature (the project's JWT secret or JWKS), `exp`, \
                         the audience `authenticated` and `app_metadata.role` `staff` or \
                         `owner`: the admin routes, instead of the admin token.",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            INGEST,
            bearer("`INGEST_API_TOKEN`: the voice service's write routes."),
        );
    answers::add(rows::add(components))
        // Write bodies: the fields the server checks them by.
        .schema(
            "CallStart",
            fields::body("A call that starts now.", &NewCall::fields()),
        )
        .schema(
            "CallEventIn",
            fields::body("An event of a call, at now.", &NewEvent::fields()),
        )
        .schema(
            "CallEnd",
            fields::body(
                "The end of a call: its transcript, the functions called, and what is known \
                 of the caller. The outcome is `booked` if `book_appointment` was called, \
                 else `browsing` if `check_availability` was, else `info_only`; without a \
                 sentiment the call is `neutral`, without a score 5.0, without `escalated` \
                 false.",
                &CallEnd::fields(),
            ),
        )
        .schema(
            "CustomerIn",
            fields::body(
                "A new customer, stored trimmed of blanks (spaces, tabs, line breaks).",
                &NewCustomer::fields(),
            ),
        )
        .schema(fields::JSON_VALUE, fields::json_value())
        // Errors, in FastAPI's shapes.
        .schema(
            "HTTPError",
            object(
                "A refusal, with the reason.",
                vec![("detail", of(Type::String).into())],
            ),
        )
        .schema(
            "ValidationError",
            object(
                "One invalid parameter.",
                vec![
                    (
                        "loc",
                        ArrayBuilder::new()
                            .items(of(SchemaType::from_iter([Type::String, Type::Integer])))
                            .description(Some(
                                "Where: `query`, `path` or `body`, then the parameter's name.",
                            ))
                            .into(),
                    ),
                    ("msg", of(Type::String).into()),
                    ("type", of(Type::String).into()),
                ],
            ),
        )
        .schema(
            "HTTPValidationError",
            object(
                "Invalid parameters (422).",
                vec![("detail", array(reference("ValidationError")))],
            ),
        )
        .build()
}
