//! Many rows' integer and text columns as bytes, not JSON: int2 and int4 values as one array of
//! 32-bit integers, text values as one buffer of their UTF-8 with their end offsets. JS reads
//! the integers straight from an `Int32Array` and each text from the buffer, with no JSON to
//! write here nor to parse there (see `lib/result.js` `laneColumns`). Each array is kept in
//! the bytes JS reads (native byte order) and handed over as it is, without a copy.

use postgres_types::{Kind, Type};
use std::fmt::Write;

/// Where a text lane's end offsets stop fitting 32 bits and become 64-bit floats (exact to
/// 2^53): a column of more than 4 GiB in one result, which Node 22 and later can hold.
const NARROW_ENDS_UP_TO: usize = u32::MAX as usize;

/// One column's values, collected as bytes.
pub(crate) enum Lane {
    /// int2 or int4 values as 32-bit integers (a NULL is 0 with its flag set).
    Int { values: Vec<u8>, nulls: Nulls },
    /// Text values: their UTF-8 one after another, and where each ends.
    Text(TextLane),
}

/// A text column's values.
pub(crate) struct TextLane {
    text: Vec<u8>,
    /// Where each value ends in `text`: 32-bit integers, or 64-bit floats once `wide`.
    ends: Vec<u8>,
    wide: bool,
    /// Past this many bytes of text the ends become wide ([`NARROW_ENDS_UP_TO`]; lower in tests).
    narrow_up_to: usize,
    nulls: Nulls,
    ascii: bool,
}

/// Which values of a lane are NULL: one byte per row, kept only once a NULL came.
#[derive(Default)]
pub(crate) struct Nulls(Option<Vec<u8>>);

impl Nulls {
    fn push(&mut self, row: usize, null: bool) {
        match (&mut self.0, null) {
            (Some(flags), _) => flags.push(null as u8),
            (None, true) => {
                let mut flags = vec![0u8; row];
                flags.push(1);
                self.0 = Some(flags);
            }
            (None, false) => {}
        }
    }
}

impl Lane {
    /// A lane for a column of this type whose values came in binary format, if it has one.
    pub(crate) fn of(ty: &Type) -> Option<Lane> {
        if !matches!(ty.kind(), Kind::Simple) {
            return None;
        }
        match *ty {
            Type::INT2 | Type::INT4 => Some(Lane::Int { values: Vec::new(), nulls: Nulls::default() }),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                Some(Lane::Text(TextLane::new(NARROW_ENDS_UP_TO)))
            }
            _ => None,
        }
    }

    /// Appends one value (`None` is NULL). An integer of another size than 2 or 4 bytes (which
    /// the server does not send) is NULL; a text that is not UTF-8 is its `\x` hex text, as
    /// the JSON path writes it.
    pub(crate) fn push(&mut self, raw: Option<&[u8]>) {
        match self {
            Lane::Int { values, nulls } => {
                let row = values.len() / 4;
                let value = raw.and_then(|b| match b.len() {
                    2 => Some(i16::from_be_bytes([b[0], b[1]]) as i32),
                    4 => Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                    _ => None,
                });
                values.extend_from_slice(&value.unwrap_or(0).to_ne_bytes());
                nulls.push(row, value.is_none());
            }
            Lane::Text(lane) => lane.push(raw),
        }
    }
}

impl TextLane {
    fn new(narrow_up_to: usize) -> Self {
        TextLane { text: Vec::new(), ends: Vec::new(), wide: false, narrow_up_to, nulls: Nulls::default(), ascii: true }
    }

    fn push(&mut self, raw: Option<&[u8]>) {
        let row = self.rows();
        if let Some(b) = raw {
            if std::str::from_utf8(b).is_ok() {
                self.ascii = self.ascii && b.is_ascii();
                self.text.extend_from_slice(b);
            } else {
                let mut hex = String::from("\\x");
                super::hex(&mut hex, b);
                self.text.extend_from_slice(hex.as_bytes());
            }
        }
        if !self.wide && self.text.len() > self.narrow_up_to {
            self.widen();
        }
        let end = self.text.len();
        match self.wide {
            false => self.ends.extend_from_slice(&(end as u32).to_ne_bytes()),
            true => self.ends.extend_from_slice(&(end as f64).to_ne_bytes()),
        }
        self.nulls.push(row, raw.is_none());
    }

    fn rows(&self) -> usize {
        self.ends.len() / if self.wide { 8 } else { 4 }
    }

    /// Rewrites the ends so far as 64-bit floats.
    fn widen(&mut self) {
        let narrow = std::mem::take(&mut self.ends);
        self.ends.reserve(narrow.len() * 2);
        for end in narrow.chunks_exact(4) {
            let end = u32::from_ne_bytes([end[0], end[1], end[2], end[3]]);
            self.ends.extend_from_slice(&f64::from(end).to_ne_bytes());
        }
        self.wide = true;
    }
}

/// The lanes of a result as the buffers JS takes, in order, and their description:
/// `[[column,"i",values,nulls],[column,"s",ends,text,ascii,wide,nulls],…]`, each array named
/// by its index among the buffers (nulls -1 when no value is NULL; wide 1 when the ends are
/// 64-bit floats).
pub(crate) fn lay_out(lanes: Vec<(usize, Lane)>, meta: &mut String) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut put = |bytes: Vec<u8>| {
        out.push(bytes);
        out.len() - 1
    };
    meta.push('[');
    for (i, (column, lane)) in lanes.into_iter().enumerate() {
        if i > 0 {
            meta.push(',');
        }
        match lane {
            Lane::Int { values, nulls } => {
                let values = put(values);
                let nulls = nulls.0.map_or(-1, |n| put(n) as i64);
                let _ = write!(meta, "[{column},\"i\",{values},{nulls}]");
            }
            Lane::Text(TextLane { text, ends, wide, nulls, ascii, .. }) => {
                let (ends, text) = (put(ends), put(text));
                let nulls = nulls.0.map_or(-1, |n| put(n) as i64);
                let _ = write!(meta, "[{column},\"s\",{ends},{text},{},{},{nulls}]", ascii as u8, wide as u8);
            }
        }
    }
    meta.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i32s(b: &[u8]) -> Vec<i32> {
        b.chunks(4).map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]])).collect()
    }

    /// The numbers of each lane's description (`[column,"i",…]` → column and indexes).
    fn numbers(meta: &str) -> Vec<Vec<i64>> {
        let v: serde_json::Value = serde_json::from_str(meta).expect("lanes meta is JSON");
        let lanes = v.as_array().expect("an array");
        lanes.iter().map(|l| l.as_array().expect("a lane").iter().filter_map(|x| x.as_i64()).collect()).collect()
    }

    #[test]
    fn integers_keep_sign_and_null_flags_start_at_the_first_null() {
        let mut lane = Lane::of(&Type::INT2).expect("int2 has a lane");
        for raw in
            [Some(&(-2i16).to_be_bytes()[..]), Some(&7i16.to_be_bytes()[..]), None, Some(&1i16.to_be_bytes()[..])]
        {
            lane.push(raw);
        }
        let mut wide = Lane::of(&Type::INT4).expect("int4 has a lane");
        wide.push(Some(&i32::MIN.to_be_bytes()));
        wide.push(Some(&i32::MAX.to_be_bytes()));
        let mut meta = String::new();
        let buffers = lay_out(vec![(0, lane), (3, wide)], &mut meta);
        let lanes = numbers(&meta);
        assert_eq!(lanes, [vec![0, 0, 1], vec![3, 2, -1]], "no NULL, no flags: {meta}");
        assert_eq!(i32s(&buffers[0]), [-2, 7, 0, 1]);
        assert_eq!(buffers[1], [0, 0, 1, 0]);
        assert_eq!(i32s(&buffers[2]), [i32::MIN, i32::MAX]);
    }

    #[test]
    fn texts_end_where_their_bytes_end_and_a_non_ascii_value_clears_the_flag() {
        let mut lane = Lane::of(&Type::TEXT).expect("text has a lane");
        for raw in [Some("ab".as_bytes()), Some(b""), None, Some("é".as_bytes()), Some(&[0xff, 0x01][..])] {
            lane.push(raw);
        }
        let mut ascii = Lane::of(&Type::BPCHAR).expect("char has a lane");
        ascii.push(Some(b"x "));
        let mut meta = String::new();
        let buffers = lay_out(vec![(1, lane), (2, ascii)], &mut meta);
        assert_eq!(numbers(&meta), [vec![1, 0, 1, 0, 0, 2], vec![2, 3, 4, 1, 0, -1]], "{meta}");
        assert_eq!(i32s(&buffers[0]), [2, 2, 2, 4, 10]);
        assert_eq!(buffers[1], "abé\\xff01".as_bytes());
        assert_eq!(buffers[2], [0, 0, 1, 0, 0]);
        assert_eq!(buffers[4], b"x ");
    }

    #[test]
    fn text_ends_past_the_narrow_limit_become_floats_from_the_first_row() {
        let mut lane = Lane::Text(TextLane::new(5));
        for raw in [Some(&b"abc"[..]), None, Some(b"defg"), Some(b"h")] {
            lane.push(raw);
        }
        let mut meta = String::new();
        let buffers = lay_out(vec![(0, lane)], &mut meta);
        assert_eq!(numbers(&meta), [vec![0, 0, 1, 1, 1, 2]], "wide: {meta}");
        let ends: Vec<f64> = buffers[0].chunks(8).map(|c| f64::from_ne_bytes(c.try_into().expect("8 bytes"))).collect();
        assert_eq!(ends, [3.0, 3.0, 7.0, 8.0]);
        assert_eq!(buffers[2], [0, 1, 0, 0]);
    }

    #[test]
    fn a_malformed_integer_is_null() {
        let mut lane = Lane::of(&Type::INT4).expect("int4 has a lane");
        lane.push(Some(&[1, 2, 3]));
        lane.push(Some(&5i32.to_be_bytes()));
        let mut meta = String::new();
        let buffers = lay_out(vec![(0, lane)], &mut meta);
        assert_eq!(i32s(&buffers[0]), [0, 5]);
        assert_eq!(buffers[1], [1, 0]);
    }

    #[test]
    fn only_integer_and_text_types_have_lanes() {
        for ty in [Type::INT2, Type::INT4, Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME] {
            assert!(Lane::of(&ty).is_some(), "{ty}");
        }
        for ty in [Type::INT8, Type::FLOAT8, Type::BOOL, Type::JSON, Type::INT4_ARRAY, Type::TEXT_ARRAY] {
            assert!(Lane::of(&ty).is_none(), "{ty}");
        }
    }
}
