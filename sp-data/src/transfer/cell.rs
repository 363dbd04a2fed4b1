//! One column's value between a database row and an export line, checked against its kind.

use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};
use sp_core::{Id, Timestamp};

use super::catalogue::Kind;

/// A column's value; SQL NULL is `None` beside it, and absent from the export's row object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Id(Id),
    Time(Timestamp),
    Json(Value),
    Text(String),
    Int(i64),
    Real(f32),
    Bool(bool),
    Vector(Vec<f32>),
    Bytes(Vec<u8>),
}

impl Cell {
    /// The export's form: ids and text as strings, times as µs, JSON with keys sorted (JSONB
    /// and SQLite's text keep them in different orders; the export must not depend on which).
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Cell::Id(id) => Value::String(id.to_string()),
            Cell::Time(at) => Value::from(at.unix_micros()),
            Cell::Json(value) => sorted(value),
            Cell::Text(text) => Value::String(text.clone()),
            Cell::Int(n) => Value::from(*n),
            Cell::Real(x) => f32_to_json(*x),
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Vector(v) => Value::Array(v.iter().map(|x| f32_to_json(*x)).collect()),
            Cell::Bytes(bytes) => Value::String(BASE64.encode(bytes)),
        }
    }

    /// Reads an export's value as `kind`; the error says what was expected.
    pub(crate) fn from_json(kind: Kind, value: &Value) -> Result<Cell, String> {
        let wrong = || format!("expected {}, found {value}", expected(kind));
        Ok(match kind {
            Kind::Id => Cell::Id(
                value
                    .as_str()
                    .and_then(|s| Id::from_str(s).ok())
                    .ok_or_else(wrong)?,
            ),
            Kind::Time => Cell::Time(
                value
                    .as_i64()
                    .and_then(Timestamp::from_unix_micros)
                    .ok_or_else(wrong)?,
            ),
            Kind::Json => Cell::Json(value.clone()),
            Kind::Text => Cell::Text(value.as_str().ok_or_else(wrong)?.to_owned()),
            Kind::Int => Cell::Int(value.as_i64().ok_or_else(wrong)?),
            Kind::Real => Cell::Real(json_to_f32(value).ok_or_else(wrong)?),
            Kind::Bool => Cell::Bool(value.as_bool().ok_or_else(wrong)?),
            Kind::Vector => Cell::Vector(
                value
                    .as_array()
                    .ok_or_else(wrong)?
                    .iter()
                    .map(|x| json_to_f32(x).ok_or_else(wrong))
                    .collect::<Result<_, _>>()?,
            ),
            Kind::Bytes => Cell::Bytes(
                value
                    .as_str()
                    .and_then(|s| BASE64.decode(s).ok())
                    .ok_or_else(wrong)?,
            ),
        })
    }
}

/// The shortest decimal that reads back as `x` (`0.1`, not the `0.10000000149011612` of its
/// f64 widening): a third of the bytes for a vector. Not finite: null, which reads back as no
/// number (neither backend stores one).
fn f32_to_json(x: f32) -> Value {
    x.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// A JSON number as the f32 nearest its decimal (parsed as f32 directly: no double rounding).
fn json_to_f32(value: &Value) -> Option<f32> {
    let number = value.as_number()?;
    number
        .to_string()
        .parse::<f32>()
        .ok()
        .filter(|x| x.is_finite())
}

fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Id => "a UUID string",
        Kind::Time => "integer microseconds since the epoch",
        Kind::Json => "JSON",
        Kind::Text => "a string",
        Kind::Int => "an integer",
        Kind::Real => "a number",
        Kind::Bool => "true or false",
        Kind::Vector => "an array of numbers",
        Kind::Bytes => "a base64 string",
    }
}

/// `value` with every object's keys in sorted order, at every depth.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                out.insert(key.clone(), sorted(&map[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_export_form() {
        let cells = [
            (Kind::Id, Cell::Id(Id::new())),
            (
                Kind::Time,
                Cell::Time(Timestamp::from_unix_micros(1_765_000_000_123_456).expect("in range")),
            ),
            (Kind::Json, Cell::Json(json!({"a": [1, {"b": null}]}))),
            (Kind::Text, Cell::Text("héllo".into())),
            (Kind::Int, Cell::Int(-7)),
            (Kind::Real, Cell::Real(0.1)),
            (Kind::Bool, Cell::Bool(true)),
            (
                Kind::Vector,
                Cell::Vector(vec![
                    0.1,
                    -3.5e-7,
                    1.0,
                    f32::MIN_POSITIVE,
                    f32::MAX,
                    0.333_333_34,
                ]),
            ),
            (Kind::Bytes, Cell::Bytes(vec![0, 255, 7])),
        ];
        for (kind, cell) in cells {
            assert_eq!(Cell::from_json(kind, &cell.to_json()), Ok(cell));
        }
    }

    #[test]
    fn floats_take_their_shortest_form() {
        assert_eq!(Cell::Real(0.1).to_json().to_string(), "0.1");
        assert_eq!(
            Cell::Vector(vec![0.25, -1.5]).to_json().to_string(),
            "[0.25,-1.5]"
        );
    }

    #[test]
    fn json_keys_are_sorted_at_every_depth() {
        let value = Cell::Json(json!({"z": 1, "a": {"y": 2, "b": 3}}));
        assert_eq!(
            serde_json::to_string(&value.to_json()).ok(),
            Some(r#"{"a":{"b":3,"y":2},"z":1}"#.to_owned())
        );
    }

    #[test]
    fn a_value_of_the_wrong_kind_is_named() {
        let err = Cell::from_json(Kind::Int, &json!("7")).expect_err("a string is no integer");
        assert!(err.contains("expected an integer"), "{err}");
        assert!(Cell::from_json(Kind::Id, &json!("not-a-uuid")).is_err());
        assert!(Cell::from_json(Kind::Vector, &json!([1, "x"])).is_err());
    }
}
