//! A whole result as one JSON text: `{"rows":[…],"rowCount":n,"command":"…","fields":[…],"fix":[…]}`.

use super::{fix_of, json_str, write_json, RawValue};
use crate::config::Int8Mode;
use postgres_types::Type;
use std::fmt::Write;
use tokio_postgres::{Column, Row};

/// Writes rows of one statement; built once per result from its columns.
pub struct RowWriter {
    /// `"name":` per column, escaped once.
    keys: Vec<String>,
    names: Vec<String>,
    types: Vec<Type>,
    array_mode: bool,
    int8: Int8Mode,
}

impl RowWriter {
    /// A writer for these columns; `array_mode` writes rows as arrays (`rowMode: 'array'`).
    pub fn new(columns: &[Column], array_mode: bool, int8: Int8Mode) -> Self {
        let keys = columns
            .iter()
            .map(|c| {
                let mut k = String::with_capacity(c.name().len() + 3);
                json_str(&mut k, c.name());
                k.push(':');
                k
            })
            .collect();
        let names = columns.iter().map(|c| c.name().to_string()).collect();
        let types = columns.iter().map(|c| c.type_().clone()).collect();
        RowWriter { keys, names, types, array_mode, int8 }
    }

    /// Appends one row (as an object or an array), preceded by a comma unless `first`.
    pub fn write_row(&self, out: &mut String, row: &Row, first: bool) {
        if !first {
            out.push(',');
        }
        out.push(if self.array_mode { '[' } else { '{' });
        for (i, ty) in self.types.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if !self.array_mode {
                out.push_str(&self.keys[i]);
            }
            let raw = row.try_get::<_, RawValue>(i).map(|r| r.0).unwrap_or(None);
            write_json(out, ty, raw, self.int8);
        }
        out.push(if self.array_mode { ']' } else { '}' });
    }

    /// Appends `"fields":[{"name","dataTypeID"}…],"fix":[…]`.
    pub fn write_meta(&self, out: &mut String) {
        out.push_str("\"fields\":[");
        for (i, (name, ty)) in self.names.iter().zip(&self.types).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            json_str(out, name);
            let _ = write!(out, ",\"dataTypeID\":{}}}", ty.oid());
        }
        out.push_str("],\"fix\":[");
        for (i, ty) in self.types.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}", fix_of(ty, self.int8) as u8);
        }
        out.push(']');
    }
}

/// pg's `rowCount`: rows for data commands, null for commands without a count (DDL).
pub fn row_count(command: &str, affected: Option<u64>, rows: u64) -> Option<u64> {
    match command {
        "SELECT" | "FETCH" | "MOVE" | "COPY" => Some(affected.unwrap_or(rows)),
        "INSERT" | "UPDATE" | "DELETE" | "MERGE" => Some(affected.unwrap_or(0)),
        _ => None,
    }
}
