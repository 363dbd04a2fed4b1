//! The export's lines: a header naming the format and its version, one line per row, and a
//! closing line with every table's row count (a file without it was cut short). Reading checks
//! every line against the catalogue and says which line of which file is wrong.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sp_core::Error;

use super::catalogue::{TABLES, Table, table};
use super::cell::Cell;

/// The format's name in the header line.
pub const EXPORT_FORMAT: &str = "sp-export";
/// The version this build writes and reads.
pub const EXPORT_VERSION: u64 = 1;

/// One line of an export, read.
pub(crate) enum Line {
    Header,
    Row {
        index: usize,
        table: &'static Table,
        cells: Vec<Option<Cell>>,
    },
    End(BTreeMap<String, u64>),
}

pub(crate) fn header_line() -> String {
    json!({"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "sp": env!("CARGO_PKG_VERSION")})
        .to_string()
}

pub(crate) fn row_line(table: &Table, cells: &[Option<Cell>]) -> String {
    let mut row = Map::new();
    for ((name, _), cell) in table.columns.iter().zip(cells) {
        if let Some(cell) = cell {
            row.insert((*name).to_owned(), cell.to_json());
        }
    }
    json!({"table": table.name, "row": row}).to_string()
}

/// Counts of every table, zeros included, in catalogue order.
pub(crate) fn end_line(counts: &BTreeMap<String, u64>) -> String {
    let mut rows = Map::new();
    for table in TABLES {
        rows.insert(
            table.name.to_owned(),
            Value::from(counts.get(table.name).copied().unwrap_or(0)),
        );
    }
    json!({"end": {"rows": rows}}).to_string()
}

/// The coded error for line `line` (1-based; 0 for the file as a whole) of `path`.
pub(crate) fn invalid(path: &str, line: usize, reason: impl Into<String>) -> Error {
    let path = if line == 0 {
        path.to_owned()
    } else {
        format!("{path}:{line}")
    };
    Error::ImportInvalid {
        path,
        reason: reason.into(),
    }
}

/// Reads one line; `Err` holds the reason.
pub(crate) fn parse_line(text: &str) -> Result<Line, String> {
    let value: Value = serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
    let Value::Object(object) = value else {
        return Err("not a JSON object".into());
    };
    if let Some(format) = object.get("format") {
        if format != EXPORT_FORMAT {
            return Err(format!("format {format}, expected \"{EXPORT_FORMAT}\""));
        }
        let version = object.get("version").and_then(Value::as_u64);
        if version != Some(EXPORT_VERSION) {
            return Err(format!(
                "format version {}, this build reads {EXPORT_VERSION}",
                object.get("version").cloned().unwrap_or(Value::Null)
            ));
        }
        return Ok(Line::Header);
    }
    if let Some(end) = object.get("end") {
        let rows = end
            .get("rows")
            .and_then(Value::as_object)
            .ok_or("a closing line without row counts")?;
        let mut counts = BTreeMap::new();
        for (name, count) in rows {
            let count = count.as_u64().ok_or("a row count that is not a number")?;
            counts.insert(name.clone(), count);
        }
        return Ok(Line::End(counts));
    }
    let name = object
        .get("table")
        .and_then(Value::as_str)
        .ok_or("neither a header, a row (`table`, `row`) nor the closing line")?;
    let (index, table) = table(name).ok_or_else(|| format!("unknown table `{name}`"))?;
    let row = object
        .get("row")
        .and_then(Value::as_object)
        .ok_or("a row line without its `row` object")?;
    if let Some(unknown) = row.keys().find(|key| table.kind_of(key).is_none()) {
        return Err(format!("unknown column `{unknown}` of table `{name}`"));
    }
    let mut cells = Vec::with_capacity(table.columns.len());
    for (column, kind) in table.columns {
        cells.push(match row.get(*column) {
            None => None,
            Some(value) => Some(
                Cell::from_json(*kind, value).map_err(|err| format!("`{name}.{column}`: {err}"))?,
            ),
        });
    }
    Ok(Line::Row {
        index,
        table,
        cells,
    })
}
