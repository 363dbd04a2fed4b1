//! OpenAPI schemas of the types whose JSON form is a validated string (feature `openapi`).
//!
//! Their Rust shape (an enum, a struct of count and period, a checked newtype) is not what goes
//! over the wire, so the derive cannot describe them; these say what a client sends and gets.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::auth::{Quota, Scope};
use crate::knowledge::Namespace;

fn string_schema(description: &str, example: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .examples([serde_json::Value::from(example)])
}

impl PartialSchema for Namespace {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "A tenant: 1-64 characters of a-z, 0-9, `_`, `-`.",
            "default",
        )
        .pattern(Some("^[a-z0-9_-]{1,64}$"))
        .into()
    }
}
impl ToSchema for Namespace {}

impl PartialSchema for Scope {
    fn schema() -> RefOr<Schema> {
        string_schema("A permission; `admin` implies every other.", "inference")
            .enum_values(Some(Scope::ALL.map(Scope::as_str)))
            .into()
    }
}
impl ToSchema for Scope {}

impl PartialSchema for Quota {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "`COUNT/PERIOD`, PERIOD one of `s`, `min`, `h`, `day`: COUNT is also the burst.",
            "60/min",
        )
        .pattern(Some(
            r"^[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)$",
        ))
        .into()
    }
}
impl ToSchema for Quota {}
