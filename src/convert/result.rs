//! A whole result as one JSON text:
//! `{"cols":[[…],…],"n":rows,"rowCount":n,"command":"…","fields":[…],"fix":[…]}`, or, for
//! many rows, that text without `cols` and the rows beside it in parts (see [`PART_BYTES`]),
//! the integer and text columns of all rows past the first part in lanes (see [`lanes`]).

use super::lanes::{self, Lane};
use super::prisma::Form;
use super::{fix_of, json_str, pg_driver::decoded_here, text_value, write_json, write_text_json, RawValue, Style};
use crate::config::Int8Mode;
use postgres_types::Type;
use std::fmt::Write;
use tokio_postgres::{Column, Row, SimpleQueryRow};

/// The most JSON text one part of a result's rows holds (a row may end a part a little over
/// it). V8 parses a JSON text of 100 KiB or more into its old generation (`JsonParser`'s
/// pretenuring), where a result's values stayed until a full collection: a result of 10,000
/// rows as one text cost frequent mark-compacts and fresh pages for every result. In parts,
/// the values are young and die young, as a driver's per-value strings do.
pub(crate) const PART_BYTES: usize = 64 * 1024;

/// The first part's size when some column can go into lanes: the rest of the rows of a result
/// larger than this are worth the lanes' fixed cost (a few buffers; measured: a result of 100
/// rows of 110 bytes cost 8-19% more CPU in lanes after 8 KiB, one of 1,000 rows 25-30% less
/// after 16 KiB).
const FIRST_PART_BYTES: usize = 16 * 1024;

/// A statement's result for JS: the JSON text, and its rows in parts when there are many.
pub(crate) struct ResultText {
    /// `{"cols":…,…}`, or `{"parts":k,"n":…,…}` when the rows are in `parts`.
    pub(crate) json: String,
    /// The rows, each text part `[[values of column 0],…]`, and last the lanes' arrays when
    /// some columns went into lanes.
    pub(crate) parts: Vec<Part>,
}

/// One part of a result's rows.
pub(crate) enum Part {
    /// Some rows as JSON, `[[values of column 0],…]` (a column in lanes is `[]`).
    Text(String),
    /// One array of the columns in lanes, for the rows from `lanesFrom` on (see
    /// [`lanes::lay_out`]); they come last, `laneParts` of them.
    Lanes(Vec<u8>),
}

impl Part {
    /// Its size in bytes.
    pub(crate) fn len(&self) -> usize {
        match self {
            Part::Text(t) => t.len(),
            Part::Lanes(b) => b.len(),
        }
    }
}

impl ResultText {
    /// A result whose rows are all in its text.
    pub(crate) fn whole(json: String) -> Self {
        ResultText { json, parts: Vec::new() }
    }
}

/// Collects rows column by column: JSON.parse of a few arrays of plain values is much
/// cheaper than of one object per row (no key per value), and `lib/result.js` builds the row
/// objects with a constructor generated once per column set.
pub(crate) struct RowWriter {
    names: Vec<String>,
    types: Vec<Type>,
    /// Columns asked for in text format (see `pg_driver::decoded_here`).
    text: Vec<bool>,
    /// Per column in the Prisma style, the form its values are written in ([`Form`]); empty
    /// in the other styles and for the simple protocol's rows.
    prisma: Vec<Option<Form>>,
    int8: Int8Mode,
    /// Whose conventions the values follow.
    style: Style,
    /// Per column: source table OID, column number and type modifier ([`Style::PgDriver`]).
    origins: Vec<(u32, i16, i32)>,
    /// One JSON array body per column (values separated by commas).
    cols: Vec<String>,
    /// Rows in `cols`.
    n: u64,
    /// Rows already moved from `cols` into `parts`.
    parted: u64,
    /// Earlier rows, in parts of about [`PART_BYTES`] (only for a whole result: see [`Self::in_parts`]).
    parts: Vec<Part>,
    in_parts: bool,
    /// Some column can go into a lane (see [`Self::lane_for`]): the first part is
    /// then [`FIRST_PART_BYTES`], and the rows after it go into lanes.
    can_lane: bool,
    /// Per column, its lane once the rows went into lanes (see [`Self::end_part`]).
    lanes: Vec<Option<Lane>>,
    /// The first row in the lanes, once there are lanes.
    lanes_from: Option<u64>,
}

impl RowWriter {
    /// A writer for these columns.
    pub(crate) fn new(columns: &[Column], int8: Int8Mode, style: Style) -> Self {
        let origins = match style {
            Style::PgDriver { .. } => columns
                .iter()
                .map(|c| (c.table_oid().unwrap_or(0), c.column_id().unwrap_or(0), c.type_modifier()))
                .collect(),
            _ => Vec::new(),
        };
        let names = columns.iter().map(|c| c.name().to_string()).collect();
        let types = columns.iter().map(|c| c.type_().clone()).collect();
        RowWriter { origins, ..Self::with(names, types, int8, style, false) }
    }

    /// A writer for columns whose values arrive in text format (the simple protocol).
    pub(crate) fn for_text(names: Vec<String>, types: Vec<Type>, int8: Int8Mode, style: Style) -> Self {
        Self::with(names, types, int8, style, true)
    }

    fn with(names: Vec<String>, types: Vec<Type>, int8: Int8Mode, style: Style, all_text: bool) -> Self {
        let cols = types.iter().map(|_| String::with_capacity(64)).collect();
        let text: Vec<bool> = types.iter().map(|t| !decoded_here(t, style)).collect();
        let prisma = match style {
            Style::Prisma if !all_text => types.iter().zip(&text).map(|(t, &text)| Form::of(t, text)).collect(),
            _ => Vec::new(),
        };
        // Prisma reads int8 as its decimal text, whatever the pool gives other callers.
        let int8 = if style == Style::Prisma { Int8Mode::String } else { int8 };
        let origins = Vec::new();
        RowWriter {
            names,
            types,
            text,
            prisma,
            int8,
            style,
            origins,
            cols,
            n: 0,
            parted: 0,
            parts: Vec::new(),
            in_parts: false,
            can_lane: false,
            lanes: Vec::new(),
            lanes_from: None,
        }
    }

    /// Many rows go out in parts (a whole result read by [`Self::result`]; not a stream's
    /// batches, which are small, nor the results of a text of several statements).
    pub(crate) fn in_parts(mut self) -> Self {
        self.in_parts = true;
        self.can_lane = (0..self.types.len()).any(|i| self.lane_for(i).is_some());
        self
    }

    /// An empty lane for column `i` if its values can go into one: an int2/int4 or text
    /// column read in binary, in any style but Prisma's (which writes its own forms). Nothing
    /// is allocated until a value is pushed.
    fn lane_for(&self, i: usize) -> Option<Lane> {
        if self.style == Style::Prisma || self.text[i] {
            return None;
        }
        Lane::of(&self.types[i])
    }

    /// Appends one text-format row: values of types read in binary elsewhere are parsed to
    /// the same JSON (see `text_value`), the others passed on as the server's text.
    pub(crate) fn push_text_row(&mut self, row: &SimpleQueryRow) {
        for (i, (ty, col)) in self.types.iter().zip(self.cols.iter_mut()).enumerate() {
            if self.n > 0 {
                col.push(',');
            }
            let raw = row.get(i);
            if self.text[i] {
                write_text(self.style, col, ty, raw.map(str::as_bytes));
            } else {
                text_value::write_json(col, ty, raw, self.int8);
            }
        }
        self.n += 1;
    }

    /// Appends one row's values to the column buffers.
    pub(crate) fn push_row(&mut self, row: &Row) {
        for (i, (ty, col)) in self.types.iter().zip(self.cols.iter_mut()).enumerate() {
            let raw = row.try_get::<_, RawValue>(i).map(|r| r.0).unwrap_or(None);
            if let Some(Some(lane)) = self.lanes.get_mut(i) {
                lane.push(raw);
                continue;
            }
            if self.n > 0 {
                col.push(',');
            }
            if let Some(Some(form)) = self.prisma.get(i) {
                if form.write(col, raw) {
                    continue;
                }
            }
            if self.text[i] {
                write_text(self.style, col, ty, raw);
            } else {
                write_json(col, ty, raw, self.int8);
            }
        }
        self.n += 1;
        let part_bytes = if self.parts.is_empty() && self.can_lane { FIRST_PART_BYTES } else { PART_BYTES };
        if self.in_parts && self.cols.iter().map(String::len).sum::<usize>() >= part_bytes {
            self.end_part();
        }
    }

    /// Moves the rows in the column buffers into a part: `[[…],[…]]`. After the first part,
    /// the columns that have a lane take their next values there (a result this large is
    /// worth the lanes' fixed cost; a small one stays one JSON text).
    fn end_part(&mut self) {
        let mut part = String::with_capacity(self.cols.iter().map(|c| c.len() + 3).sum::<usize>() + 2);
        self.drain_cols(&mut part);
        self.parts.push(Part::Text(part));
        self.parted += std::mem::take(&mut self.n);
        if self.can_lane && self.lanes_from.is_none() {
            self.lanes = (0..self.types.len()).map(|i| self.lane_for(i)).collect();
            self.lanes_from = Some(self.parted);
        }
    }

    /// Whether some column has no lane (its values still go into JSON parts).
    fn has_json_columns(&self) -> bool {
        self.lanes.is_empty() || self.lanes.iter().any(Option::is_none)
    }

    /// Moves the rows in the column buffers to `out` as `[[…],[…]]`.
    fn drain_cols(&mut self, out: &mut String) {
        out.push('[');
        for (i, col) in self.cols.iter_mut().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            out.push_str(col);
            out.push(']');
            col.clear();
        }
        out.push(']');
    }

    /// Appends the rows taken so far, `"cols":[[…],…],"n":N`, or `"parts":k,"n":N` when they
    /// went into parts, and empties the buffers for the next batch.
    fn take_rows(&mut self, out: &mut String) {
        let rows = if self.parts.is_empty() {
            out.push_str("\"cols\":");
            self.drain_cols(out);
            std::mem::take(&mut self.n)
        } else {
            out.push_str("\"parts\":");
            out.push_str(itoa::Buffer::new().format(self.parts.len()));
            std::mem::take(&mut self.parted) + std::mem::take(&mut self.n)
        };
        out.push_str(",\"n\":");
        out.push_str(itoa::Buffer::new().format(rows));
    }

    /// Appends `"fields":[{"name","dataTypeID"}…],"fix":[…]`.
    pub(crate) fn write_meta(&self, out: &mut String) {
        out.push_str("\"fields\":[");
        for (i, (name, ty)) in self.names.iter().zip(&self.types).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            json_str(out, name);
            let _ = write!(out, ",\"dataTypeID\":{}", ty.oid());
            if let Some((table, column, modifier)) = self.origins.get(i) {
                let _ = write!(out, ",\"tableID\":{table},\"columnID\":{column},\"dataTypeModifier\":{modifier}");
            }
            out.push('}');
        }
        out.push_str("],\"fix\":[");
        for (i, (ty, &text)) in self.types.iter().zip(&self.text).enumerate() {
            if i > 0 {
                out.push(',');
            }
            let final_here = self.prisma.get(i).is_some_and(|f| f.is_some_and(Form::is_final));
            let fix = if text || final_here { crate::convert::Fix::None } else { fix_of(ty, self.int8) };
            let _ = write!(out, "{}", fix as u8);
        }
        out.push(']');
    }
}

impl RowWriter {
    /// A whole result, taking the rows pushed so far:
    /// `{"cols":…,"n":…,"rowCount":…,"command":…,"fields":…,"fix":…}`, or, when they filled
    /// more than one part, `{"parts":k,…}` and the parts beside it.
    pub(crate) fn result(&mut self, command: &str, affected: Option<u64>) -> ResultText {
        if !self.parts.is_empty() && self.n > 0 && self.has_json_columns() {
            self.end_part();
        }
        let rows = self.parted + self.n;
        let taken = std::mem::take(&mut self.lanes).into_iter().enumerate();
        // Lanes that got no row (the first part ended at the last row) are left out.
        let mut lanes_meta = String::new();
        if let Some(from) = self.lanes_from.take().filter(|&from| from < rows) {
            let _ = write!(lanes_meta, ",\"lanesFrom\":{from},\"lanes\":");
            let buffers = lanes::lay_out(taken.filter_map(|(c, l)| Some((c, l?))).collect(), &mut lanes_meta);
            let _ = write!(lanes_meta, ",\"laneParts\":{}", buffers.len());
            self.parts.extend(buffers.into_iter().map(Part::Lanes));
        }
        let count = match row_count(command, affected, rows) {
            Some(c) => itoa::Buffer::new().format(c).to_string(),
            None => "null".into(),
        };
        let json = self.envelope(command, "rowCount", &count, true, &lanes_meta);
        ResultText { json, parts: std::mem::take(&mut self.parts) }
    }

    /// One batch of a stream, taking the rows pushed since the last one:
    /// `{"cols":…,"n":…,"done":…,"command":…}`, with `"fields"` and `"fix"` when `meta`.
    pub(crate) fn batch_json(&mut self, command: &str, done: bool, meta: bool) -> String {
        self.envelope(command, "done", if done { "true" } else { "false" }, meta, "")
    }

    /// Written with `push_str`, not `write!`: it runs once per statement. `lanes`: the lanes'
    /// members (`,"lanesFrom":…`), empty when there are none.
    fn envelope(&mut self, command: &str, key: &str, value: &str, meta: bool, lanes: &str) -> String {
        let mut out = String::with_capacity(256);
        out.push('{');
        self.take_rows(&mut out);
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":");
        out.push_str(value);
        out.push_str(",\"command\":");
        json_str(&mut out, command);
        if meta {
            out.push(',');
            self.write_meta(&mut out);
        }
        out.push_str(lanes);
        out.push('}');
        out
    }
}

/// A value that arrived in text format: the server's text as it is in pg's driver style
/// (pg's parsers read it), else as [`write_text_json`] writes it.
fn write_text(style: Style, out: &mut String, ty: &Type, raw: Option<&[u8]>) {
    match (style, raw) {
        (Style::PgDriver { .. }, Some(b)) => json_str(out, &String::from_utf8_lossy(b)),
        (Style::PgDriver { .. }, None) => out.push_str("null"),
        _ => write_text_json(out, ty, raw),
    }
}

/// pg's `rowCount`: rows for data commands, null for commands without a count (DDL).
pub(crate) fn row_count(command: &str, affected: Option<u64>, rows: u64) -> Option<u64> {
    match command {
        "SELECT" | "FETCH" | "MOVE" | "COPY" => Some(affected.unwrap_or(rows)),
        "INSERT" | "UPDATE" | "DELETE" | "MERGE" => Some(affected.unwrap_or(0)),
        _ => None,
    }
}
