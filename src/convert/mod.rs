//! Values in both directions.
//!
//! Results are not handed to JavaScript value by value (each napi crossing costs far more than
//! the value: Prisma's napi engine read rows 3.94x slower than `pg` that way). Instead a whole
//! result becomes one JSON text, parsed by V8's `JSON.parse` in one call; the few types JSON
//! cannot carry (Date, Buffer, BigInt, NaN/±Infinity) travel as numbers or strings and a
//! per-column [`Fix`] tells `lib/result.js` what to rebuild.

pub(crate) mod array_literal;
pub(crate) mod extra;
pub(crate) mod lanes;
pub(crate) mod params;
pub(crate) mod pg_driver;
pub(crate) mod prisma;
pub(crate) mod result;
pub(crate) mod text;
pub(crate) mod text_value;

use crate::config::Int8Mode;
use postgres_types::{FromSql, Kind, Type};
use std::fmt::Write;

/// A binary value that did not decode as its type said; it is shown as `\x` hex instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// What JavaScript must rebuild for a column after `JSON.parse` (applied through arrays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fix {
    /// The parsed value is final.
    None = 0,
    /// A number of ms since the Unix epoch → `Date` (strings such as 'infinity' stay).
    Date = 1,
    /// A hex string → `Buffer`.
    Bytes = 2,
    /// A string 'NaN' / 'Infinity' / '-Infinity' → number.
    Float = 3,
    /// A decimal string → `BigInt`.
    BigInt = 4,
}

impl Fix {
    /// `{"date":1,"bytes":2,"float":3,"bigint":4}`: the codes by meaning, for `lib/result.js`.
    pub(crate) fn codes_json() -> String {
        let codes = [("date", Fix::Date), ("bytes", Fix::Bytes), ("float", Fix::Float), ("bigint", Fix::BigInt)];
        let body: Vec<String> = codes.iter().map(|(name, f)| format!("\"{name}\":{}", *f as u8)).collect();
        format!("{{{}}}", body.join(","))
    }
}

/// How a result's values are written for the JS layer that reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Style {
    /// As `pg` gives them: json parsed, arrays as arrays.
    #[default]
    Pg,
    /// As pg's own driver gives them (`pgwarden/pg`): only the values pg's default parsers
    /// give the same are decoded here, every other column is the server's text for pg's
    /// parsers (see [`pg_driver`]); each field has its source table, column and type modifier.
    PgDriver {
        /// Bits by position in [`pg_driver::PG_DECODED`]: types the caller parses itself,
        /// asked for as text.
        text_types: u64,
    },
    /// As Prisma's driver adapters give them: json and jsonb (and their arrays' elements) as
    /// their text (Prisma parses it itself, with its own precision), arrays of user-defined
    /// types (enums) as PostgreSQL's array literal text.
    Prisma,
}

/// OIDs below this are built into PostgreSQL; above it, types a database defined.
pub(crate) const FIRST_USER_OID: u32 = 16_384;

/// The [`Fix`] for a column of type `ty`.
pub(crate) fn fix_of(ty: &Type, int8: Int8Mode) -> Fix {
    match ty.kind() {
        Kind::Domain(base) => return fix_of(base, int8),
        Kind::Array(elem) => return fix_of(elem, int8),
        Kind::Simple => {}
        _ => return Fix::None,
    }
    match *ty {
        Type::TIMESTAMP | Type::TIMESTAMPTZ => Fix::Date,
        Type::BYTEA => Fix::Bytes,
        Type::FLOAT4 | Type::FLOAT8 => Fix::Float,
        Type::INT8 if int8 == Int8Mode::BigInt => Fix::BigInt,
        _ => Fix::None,
    }
}

/// Any column's raw bytes, whatever its type (`None` is NULL).
pub(crate) struct RawValue<'a>(pub Option<&'a [u8]>);

impl<'a> FromSql<'a> for RawValue<'a> {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawValue(Some(raw)))
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawValue(None))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(out: &mut String, b: &[u8]) {
    out.reserve(b.len() * 2);
    for &byte in b {
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 15) as usize] as char);
    }
}

/// Bytes that must be escaped inside a JSON string.
const ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Appends `s` as a JSON string literal.
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    // Most values need no escaping: one table scan, then a single copy.
    let Some(first) = bytes.iter().position(|&c| ESCAPE[c as usize]) else {
        out.push_str(s);
        out.push('"');
        return;
    };
    out.push_str(&s[..first]);
    let mut start = first;
    for (i, &c) in bytes.iter().enumerate().skip(first) {
        if !ESCAPE[c as usize] {
            continue;
        }
        out.push_str(&s[start..i]);
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                let _ = write!(out, "\\u{c:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn utf8(b: &[u8]) -> Result<&str, Malformed> {
    std::str::from_utf8(b).map_err(|_| Malformed)
}

/// Appends one value as JSON; a value that does not decode becomes its `\x` hex string.
pub(crate) fn write_json(out: &mut String, ty: &Type, raw: Option<&[u8]>, int8: Int8Mode) {
    let Some(b) = raw else {
        return out.push_str("null");
    };
    let mark = out.len();
    if json_value(out, ty, b, int8).is_err() {
        out.truncate(mark);
        out.push_str("\"\\\\x");
        hex(out, b);
        out.push('"');
    }
}

fn json_value(out: &mut String, ty: &Type, b: &[u8], int8: Int8Mode) -> Result<(), Malformed> {
    match ty.kind() {
        Kind::Domain(base) => return json_value(out, base, b, int8),
        Kind::Array(elem) => return array(out, b, &mut |out, raw| write_json(out, elem, raw, int8)),
        Kind::Enum(_) => {
            json_str(out, utf8(b)?);
            return Ok(());
        }
        Kind::Simple => {}
        // Asked for in text format (see `decodes_binary`): binary bytes here are not decodable.
        _ => return Err(Malformed),
    }
    match *ty {
        Type::BOOL => out.push_str(if *b.first().ok_or(Malformed)? != 0 { "true" } else { "false" }),
        Type::INT2 => {
            out.push_str(itoa::Buffer::new().format(i16::from_be_bytes(b.try_into().map_err(|_| Malformed)?)))
        }
        Type::INT4 => out.push_str(itoa::Buffer::new().format(text::be_i32(b, 0)?)),
        Type::OID => out.push_str(itoa::Buffer::new().format(text::be_i32(b, 0)? as u32)),
        Type::INT8 => {
            let v = text::be_i64(b, 0)?;
            let mut buf = itoa::Buffer::new();
            if int8 == Int8Mode::Number {
                out.push_str(buf.format(v));
            } else {
                out.push('"');
                out.push_str(buf.format(v));
                out.push('"');
            }
        }
        Type::FLOAT4 => {
            let v = f32::from_be_bytes(b.try_into().map_err(|_| Malformed)?);
            match v.is_finite() {
                true => out.push_str(ryu::Buffer::new().format_finite(v)),
                false => non_finite_json(out, v as f64),
            }
        }
        Type::FLOAT8 => {
            let v = f64::from_be_bytes(b.try_into().map_err(|_| Malformed)?);
            match v.is_finite() {
                true => out.push_str(ryu::Buffer::new().format_finite(v)),
                false => non_finite_json(out, v),
            }
        }
        // The server validated json text; embedding it is exact and costs nothing.
        Type::JSON => out.push_str(utf8(b)?),
        Type::JSONB => match b.split_first() {
            Some((1, rest)) => out.push_str(utf8(rest)?),
            _ => return Err(Malformed),
        },
        Type::BYTEA => {
            out.push('"');
            hex(out, b);
            out.push('"');
        }
        Type::TIMESTAMP | Type::TIMESTAMPTZ => match text::be_i64(b, 0)? {
            i64::MAX => out.push_str("\"infinity\""),
            i64::MIN => out.push_str("\"-infinity\""),
            us => out.push_str(itoa::Buffer::new().format(us.div_euclid(1000) + text::PG_EPOCH_DAYS * 86_400_000)),
        },
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::XML | Type::UNKNOWN => json_str(out, utf8(b)?),
        _ => return text_as_json(out, ty, b),
    }
    Ok(())
}

/// NaN and ±Infinity have no JSON form: they travel as strings ([`Fix::Float`]).
fn non_finite_json(out: &mut String, v: f64) {
    out.push('"');
    text::float(out, v);
    out.push('"');
}

fn text_as_json(out: &mut String, ty: &Type, b: &[u8]) -> Result<(), Malformed> {
    let mut s = String::new();
    text_form(&mut s, ty, b)?;
    json_str(out, &s);
    Ok(())
}

/// Appends PostgreSQL's text output form of a binary value, for the simple built-in types
/// that [`json_value`] passes on as strings (everything else is a JSON value there, or arrives
/// in text format: see [`decodes_binary`]).
fn text_form(out: &mut String, ty: &Type, b: &[u8]) -> Result<(), Malformed> {
    match *ty {
        Type::NUMERIC => text::numeric(out, b)?,
        Type::DATE => text::date(out, text::be_i32(b, 0)?),
        Type::TIME => text::time_of_day(out, text::be_i64(b, 0)?),
        Type::TIMETZ => text::timetz(out, text::be_i64(b, 0)?, text::be_i32(b, 8)?),
        Type::INTERVAL => text::interval(out, text::be_i64(b, 0)?, text::be_i32(b, 8)?, text::be_i32(b, 12)?),
        Type::UUID => text::uuid(out, b)?,
        Type::INET | Type::CIDR => text::inet(out, b)?,
        Type::MACADDR | Type::MACADDR8 => text::macaddr(out, b),
        Type::BIT | Type::VARBIT => text::bits(out, b)?,
        Type::PG_LSN => {
            let v = text::be_i64(b, 0)? as u64;
            let _ = write!(out, "{:X}/{:X}", v >> 32, v & 0xffff_ffff);
        }
        Type::POINT => extra::point(out, b)?,
        Type::BOX => extra::pg_box(out, b)?,
        Type::LSEG => extra::lseg(out, b)?,
        Type::LINE => extra::line(out, b)?,
        Type::CIRCLE => extra::circle(out, b)?,
        Type::PATH => extra::path(out, b)?,
        Type::POLYGON => extra::polygon(out, b)?,
        Type::TID => extra::tid(out, b)?,
        Type::XID | Type::CID => extra::u32_text(out, b)?,
        Type::XID8 => {
            let _ = write!(out, "{}", text::be_i64(b, 0)? as u64);
        }
        Type::TS_VECTOR => extra::tsvector(out, b)?,
        Type::CHAR => out.push_str(utf8(b)?),
        _ => return Err(Malformed),
    }
    Ok(())
}

/// Whether values of `ty` are asked for in binary format: only types with an exact binary
/// decoder here, whose result does not depend on session settings. Every other column
/// (extension types such as hstore or PostGIS geometry, reg*, tsquery, money, ranges and
/// records, whose text follows the session's TimeZone) is asked for in text format and
/// passed on as PostgreSQL's own text. The one rule for both the Bind format codes and the
/// decoding of each column.
pub(crate) fn decodes_binary(ty: &Type) -> bool {
    match ty.kind() {
        Kind::Domain(base) => decodes_binary(base),
        Kind::Array(elem) => decodes_binary(elem),
        Kind::Enum(_) => true,
        Kind::Simple => matches!(
            *ty,
            Type::BOOL
                | Type::INT2
                | Type::INT4
                | Type::OID
                | Type::INT8
                | Type::FLOAT4
                | Type::FLOAT8
                | Type::NUMERIC
                | Type::JSON
                | Type::JSONB
                | Type::BYTEA
                | Type::TIMESTAMP
                | Type::TIMESTAMPTZ
                | Type::DATE
                | Type::TIME
                | Type::TIMETZ
                | Type::INTERVAL
                | Type::UUID
                | Type::INET
                | Type::CIDR
                | Type::MACADDR
                | Type::MACADDR8
                | Type::BIT
                | Type::VARBIT
                | Type::PG_LSN
                | Type::POINT
                | Type::BOX
                | Type::LSEG
                | Type::LINE
                | Type::CIRCLE
                | Type::PATH
                | Type::POLYGON
                | Type::TID
                | Type::XID
                | Type::CID
                | Type::XID8
                | Type::TS_VECTOR
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::XML
                | Type::UNKNOWN
                | Type::CHAR
        ),
        _ => false,
    }
}

/// The result format codes for Bind in `style`: one code when every column agrees (the
/// common case, as upstream sends), else one per column.
pub(crate) fn result_formats<'a>(types: impl Iterator<Item = &'a Type>, style: Style) -> Vec<i16> {
    let codes: Vec<i16> = types.map(|t| i16::from(pg_driver::decoded_here(t, style))).collect();
    match codes.first() {
        Some(&first) if codes.iter().all(|&c| c == first) => vec![first],
        Some(_) => codes,
        None => vec![1],
    }
}

/// Appends a value that arrived in text format as JSON: arrays as arrays of their element
/// texts, everything else as the server's text.
pub(crate) fn write_text_json(out: &mut String, ty: &Type, raw: Option<&[u8]>) {
    let Some(b) = raw else {
        return out.push_str("null");
    };
    let Ok(s) = std::str::from_utf8(b) else {
        out.push_str("\"\\\\x");
        hex(out, b);
        out.push('"');
        return;
    };
    if is_array(ty) {
        let mark = out.len();
        if array_literal::to_json(out, s).is_ok() {
            return;
        }
        out.truncate(mark);
    }
    json_str(out, s);
}

fn is_array(ty: &Type) -> bool {
    match ty.kind() {
        Kind::Domain(base) => is_array(base),
        Kind::Array(_) => true,
        _ => false,
    }
}

/// The characters that open and close a dimension of an array.
#[derive(Clone, Copy)]
struct Brackets(char, char);

impl Brackets {
    const JSON: Brackets = Brackets('[', ']');
    const LITERAL: Brackets = Brackets('{', '}');
}

/// Walks a binary array, writing nested JSON arrays and each element with `item`.
fn array(out: &mut String, b: &[u8], item: &mut dyn FnMut(&mut String, Option<&[u8]>)) -> Result<(), Malformed> {
    array_in(out, b, Brackets::JSON, item)
}

/// [`array`] with the given brackets.
fn array_in(
    out: &mut String,
    b: &[u8],
    brackets: Brackets,
    item: &mut dyn FnMut(&mut String, Option<&[u8]>),
) -> Result<(), Malformed> {
    let ndim = text::be_i32(b, 0)?;
    if ndim <= 0 {
        out.push(brackets.0);
        out.push(brackets.1);
        return Ok(());
    }
    let ndim = ndim as usize;
    let mut dims = Vec::with_capacity(ndim);
    for d in 0..ndim {
        dims.push(text::be_i32(b, 12 + 8 * d)?.max(0) as usize);
    }
    let mut pos = 12 + 8 * ndim;
    nested(out, &dims, b, &mut pos, brackets, item)
}

fn nested(
    out: &mut String,
    dims: &[usize],
    b: &[u8],
    pos: &mut usize,
    brackets: Brackets,
    item: &mut dyn FnMut(&mut String, Option<&[u8]>),
) -> Result<(), Malformed> {
    out.push(brackets.0);
    for i in 0..dims[0] {
        if i > 0 {
            out.push(',');
        }
        if dims.len() > 1 {
            nested(out, &dims[1..], b, pos, brackets, item)?;
        } else {
            let len = text::be_i32(b, *pos)?;
            *pos += 4;
            if len < 0 {
                item(out, None);
            } else {
                let v = b.get(*pos..*pos + len as usize).ok_or(Malformed)?;
                *pos += len as usize;
                item(out, Some(v));
            }
        }
    }
    out.push(brackets.1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(ty: &Type, b: &[u8]) -> String {
        let mut s = String::new();
        write_json(&mut s, ty, Some(b), Int8Mode::String);
        s
    }

    #[test]
    fn escapes_strings() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\n\u{1}é😀");
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001é😀\"");
    }

    #[test]
    fn scalars() {
        assert_eq!(json(&Type::INT4, &(-5i32).to_be_bytes()), "-5");
        assert_eq!(json(&Type::INT8, &i64::MAX.to_be_bytes()), "\"9223372036854775807\"");
        assert_eq!(json(&Type::FLOAT8, &f64::NAN.to_be_bytes()), "\"NaN\"");
        assert_eq!(json(&Type::FLOAT8, &f64::NEG_INFINITY.to_be_bytes()), "\"-Infinity\"");
        assert_eq!(json(&Type::FLOAT4, &1.1f32.to_be_bytes()), "1.1");
        assert_eq!(json(&Type::BYTEA, &[0, 255]), "\"00ff\"");
        assert_eq!(json(&Type::TIMESTAMPTZ, &0i64.to_be_bytes()), "946684800000");
        assert_eq!(json(&Type::TIMESTAMP, &i64::MAX.to_be_bytes()), "\"infinity\"");
        assert_eq!(json(&Type::JSONB, b"\x01{\"a\": 1}"), "{\"a\": 1}");
        assert_eq!(json(&Type::BOOL, &[1]), "true");
        assert_eq!(json(&Type::INT4, &[1, 2]), "\"\\\\x0102\"", "malformed falls back to hex");
    }

    #[test]
    fn arrays_with_nulls_and_dimensions() {
        // int4[][] = {{1,NULL},{3,4}}
        let mut b = Vec::new();
        for v in [2i32, 1, 23, 2, 1, 2, 1] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        for v in [Some(1i32), None, Some(3), Some(4)] {
            match v {
                Some(v) => {
                    b.extend_from_slice(&4i32.to_be_bytes());
                    b.extend_from_slice(&v.to_be_bytes());
                }
                None => b.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        assert_eq!(json(&Type::INT4_ARRAY, &b), "[[1,null],[3,4]]");
        assert_eq!(json(&Type::INT4_ARRAY, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23]), "[]");
    }

    #[test]
    fn fixes_look_through_arrays() {
        assert_eq!(fix_of(&Type::TIMESTAMPTZ_ARRAY, Int8Mode::String), Fix::Date);
        assert_eq!(fix_of(&Type::INT8, Int8Mode::BigInt), Fix::BigInt);
        assert_eq!(fix_of(&Type::INT8, Int8Mode::String), Fix::None);
        assert_eq!(fix_of(&Type::BYTEA_ARRAY, Int8Mode::String), Fix::Bytes);
    }

    fn other(name: &str, kind: Kind) -> Type {
        Type::new(name.into(), 99_999, kind, "public".into())
    }

    #[test]
    fn binary_only_where_a_decoder_is_exact() {
        assert!(decodes_binary(&Type::INT4));
        assert!(decodes_binary(&Type::TIMESTAMPTZ_ARRAY));
        assert!(decodes_binary(&other("mood", Kind::Enum(vec![]))));
        assert!(decodes_binary(&other("posint", Kind::Domain(Type::INT4))));
        let hstore = other("hstore", Kind::Simple);
        assert!(!decodes_binary(&hstore));
        assert!(!decodes_binary(&other("_hstore", Kind::Array(hstore.clone()))));
        assert!(!decodes_binary(&other("h", Kind::Domain(hstore))));
        assert!(!decodes_binary(&Type::REGCLASS));
        assert!(!decodes_binary(&Type::MONEY));
        assert!(!decodes_binary(&Type::TSTZ_RANGE));
        assert!(!decodes_binary(&Type::RECORD));
    }

    #[test]
    fn one_format_code_when_columns_agree() {
        let pg = Style::Pg;
        assert_eq!(result_formats([Type::INT4, Type::TEXT].iter(), pg), vec![1]);
        assert_eq!(result_formats([Type::REGTYPE].iter(), pg), vec![0]);
        assert_eq!(result_formats([Type::INT4, Type::REGTYPE].iter(), pg), vec![1, 0]);
        assert_eq!(result_formats([].iter(), pg), vec![1]);
        let driver = Style::PgDriver { text_types: 0 };
        assert_eq!(result_formats([Type::INT4, Type::TIMESTAMP].iter(), driver), vec![1, 0]);
    }

    #[test]
    fn text_values_pass_through() {
        let mut s = String::new();
        write_text_json(&mut s, &other("hstore", Kind::Simple), Some(b"\"a\"=>\"1\""));
        assert_eq!(s, r#""\"a\"=>\"1\"""#);
        s.clear();
        let arr = other("_ltree", Kind::Array(other("ltree", Kind::Simple)));
        write_text_json(&mut s, &arr, Some(b"{a.b,NULL,\"c d\"}"));
        assert_eq!(s, r#"["a.b",null,"c d"]"#);
        s.clear();
        write_text_json(&mut s, &arr, None);
        assert_eq!(s, "null");
    }
}
