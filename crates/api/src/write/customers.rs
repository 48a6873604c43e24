//! Creating a customer: stored trimmed of blanks, a collision on a unique column told
//! apart (the phone, as the original checked, or the email).

use ava_catalog::Kind;
use ava_catalog::CUSTOMERS;
use serde_json::Value as Json;

use super::bodies::NewCustomer;
use super::tx::{first, opt_text, Tx};
use crate::json::{all_columns, kinds, object};
use crate::request::trimmed;
use crate::store::Param;
use crate::ApiError;

pub(super) async fn create_customer<T: Tx>(
    tx: &T,
    customer: &NewCustomer,
    now: i64,
) -> Result<Json, ApiError> {
    let columns = all_columns(CUSTOMERS);
    let sql = format!(
        "INSERT INTO customers (name, phone, email, is_new_client, created_at, updated_at, \
         has_allergies, is_pregnant) VALUES ($1, $2, $3, TRUE, $4, $4, FALSE, FALSE) \
         ON CONFLICT DO NOTHING RETURNING {}",
        crate::json::select(CUSTOMERS, &columns, "")
    );
    let params = [
        Param::Text(trimmed(&customer.name)),
        Param::Text(trimmed(&customer.phone)),
        opt_text(&customer.email.as_deref().map(trimmed)),
        Param::Time(now),
    ];
    if let Some(row) = first(tx.rows(&sql, &params, &kinds(CUSTOMERS, &columns)).await?) {
        return Ok(Json::Object(object(&columns, &row)));
    }
    // A unique column collided: the phone (the original's check) or the email.
    let phone_taken = !tx
        .rows(
            "SELECT c.id FROM customers c WHERE c.phone = $1",
            &[Param::Text(trimmed(&customer.phone))],
            &[Kind::Id],
        )
        .await?
        .is_empty();
    Err(ApiError::BadRequest(if phone_taken {
        "Customer with this phone number already exists".into()
    } else {
        "Customer with this email already exists".into()
    }))
}
