//! Values in both directions.
//!
//! Results are not handed to JavaScript value by value (each napi crossing costs far more than
//! the value: Prisma's napi engine read rows 3.94x slower than `pg` that way). Instead a whole
//! result becomes one JSON text, parsed by V8's `JSON.parse` in one call; the few types JSON
//! cannot carry (Date, Buffer, BigInt, NaN/±Infinity) travel as numbers or strings and a
//! per-column [`Fix`] tells `lib/result.js` what to rebuild.

pub mod extra;
pub mod params;
pub mod result;
pub mod text;

use crate::config::Int8Mode;
use postgres_types::{FromSql, Kind, Type};
use std::fmt::Write;

/// A binary value that did not decode as its type said; it is shown as `\x` hex instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// What JavaScript must rebuild for a column after `JSON.parse` (applied through arrays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
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

/// The [`Fix`] for a column of type `ty`.
pub fn fix_of(ty: &Type, int8: Int8Mode) -> Fix {
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
pub struct RawValue<'a>(pub Option<&'a [u8]>);

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
pub fn json_str(out: &mut String, s: &str) {
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
pub fn write_json(out: &mut String, ty: &Type, raw: Option<&[u8]>, int8: Int8Mode) {
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
        Kind::Array(elem) => return array(out, elem, b, &mut |out, raw| write_json(out, elem, raw, int8), "[", "]"),
        Kind::Enum(_) => {
            json_str(out, utf8(b)?);
            return Ok(());
        }
        Kind::Simple => {}
        _ => return text_as_json(out, ty, b),
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

/// Appends PostgreSQL's text output form of a binary value.
pub fn text_form(out: &mut String, ty: &Type, b: &[u8]) -> Result<(), Malformed> {
    match ty.kind() {
        Kind::Domain(base) => return text_form(out, base, b),
        Kind::Enum(_) => {
            out.push_str(utf8(b)?);
            return Ok(());
        }
        Kind::Array(elem) => return array(out, elem, b, &mut |out, raw| array_item_text(out, elem, raw), "{", "}"),
        Kind::Range(sub) => return range(out, sub, b),
        Kind::Multirange(sub) => return multirange(out, sub, b),
        Kind::Composite(fields) => return record(out, fields, b),
        // Anonymous records (ROW(...)) carry each field's type OID.
        Kind::Pseudo if *ty == Type::RECORD => return record(out, &[], b),
        _ => {}
    }
    match *ty {
        Type::BOOL => out.push(if *b.first().ok_or(Malformed)? != 0 { 't' } else { 'f' }),
        Type::INT2 | Type::INT4 | Type::OID | Type::INT8 | Type::JSON | Type::JSONB => {
            json_value(out, ty, b, Int8Mode::Number)?
        }
        Type::TIMESTAMP => text::timestamp(out, text::be_i64(b, 0)?, false),
        Type::TIMESTAMPTZ => text::timestamp(out, text::be_i64(b, 0)?, true),
        Type::FLOAT4 => text::float4(out, f32::from_be_bytes(b.try_into().map_err(|_| Malformed)?)),
        Type::FLOAT8 => text::float(out, f64::from_be_bytes(b.try_into().map_err(|_| Malformed)?)),
        Type::NUMERIC => text::numeric(out, b)?,
        Type::DATE => text::date(out, text::be_i32(b, 0)?),
        Type::TIME => text::time_of_day(out, text::be_i64(b, 0)?),
        Type::TIMETZ => text::timetz(out, text::be_i64(b, 0)?, text::be_i32(b, 8)?),
        Type::INTERVAL => text::interval(out, text::be_i64(b, 0)?, text::be_i32(b, 8)?, text::be_i32(b, 12)?),
        Type::UUID => text::uuid(out, b)?,
        Type::INET | Type::CIDR => text::inet(out, b)?,
        Type::MACADDR | Type::MACADDR8 => text::macaddr(out, b),
        Type::BIT | Type::VARBIT => text::bits(out, b)?,
        Type::MONEY => text::money(out, text::be_i64(b, 0)?),
        Type::BYTEA => {
            out.push_str("\\x");
            hex(out, b);
        }
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
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::XML | Type::UNKNOWN | Type::CHAR => {
            out.push_str(utf8(b)?)
        }
        // Text-like types (text, varchar, citext, xml, ltree's text, ...) send their text as is.
        _ => match std::str::from_utf8(b) {
            Ok(s) if !s.bytes().any(|c| c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r')) => out.push_str(s),
            _ => {
                out.push_str("\\x");
                hex(out, b);
            }
        },
    }
    Ok(())
}

/// Whether an element must be double-quoted in array/record/range text.
fn needs_quotes(s: &str, specials: &[u8]) -> bool {
    s.is_empty() || s.bytes().any(|c| c == b'"' || c == b'\\' || c.is_ascii_whitespace() || specials.contains(&c))
}

/// Quotes an element when needed: arrays escape `"` and `\` with a backslash, records and
/// ranges double them (as the server's array_out and record_out do).
fn push_quoted(out: &mut String, s: &str, specials: &[u8], double: bool) {
    if !needs_quotes(s, specials) {
        return out.push_str(s);
    }
    out.push('"');
    for ch in s.chars() {
        if ch == '"' || ch == '\\' {
            out.push(if double { ch } else { '\\' });
        }
        out.push(ch);
    }
    out.push('"');
}

fn array_item_text(out: &mut String, elem: &Type, raw: Option<&[u8]>) {
    let Some(b) = raw else {
        return out.push_str("NULL");
    };
    let mut s = String::new();
    if text_form(&mut s, elem, b).is_err() {
        s.clear();
        s.push_str("\\x");
        hex(&mut s, b);
    }
    if s.eq_ignore_ascii_case("null") {
        return out.push_str("\"NULL\"");
    }
    push_quoted(out, &s, b"{},", false);
}

/// Walks a binary array, writing nested `open … close` groups and each element with `item`.
fn array(
    out: &mut String,
    _elem: &Type,
    b: &[u8],
    item: &mut dyn FnMut(&mut String, Option<&[u8]>),
    open: &str,
    close: &str,
) -> Result<(), Malformed> {
    let ndim = text::be_i32(b, 0)?;
    if ndim <= 0 {
        out.push_str(open);
        out.push_str(close);
        return Ok(());
    }
    let ndim = ndim as usize;
    let mut dims = Vec::with_capacity(ndim);
    for d in 0..ndim {
        dims.push(text::be_i32(b, 12 + 8 * d)?.max(0) as usize);
    }
    let mut pos = 12 + 8 * ndim;
    nested(out, &dims, b, &mut pos, item, open, close)
}

fn nested(
    out: &mut String,
    dims: &[usize],
    b: &[u8],
    pos: &mut usize,
    item: &mut dyn FnMut(&mut String, Option<&[u8]>),
    open: &str,
    close: &str,
) -> Result<(), Malformed> {
    out.push_str(open);
    for i in 0..dims[0] {
        if i > 0 {
            out.push(',');
        }
        if dims.len() > 1 {
            nested(out, &dims[1..], b, pos, item, open, close)?;
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
    out.push_str(close);
    Ok(())
}

fn range(out: &mut String, sub: &Type, b: &[u8]) -> Result<(), Malformed> {
    let flags = *b.first().ok_or(Malformed)?;
    if flags & 0x01 != 0 {
        out.push_str("empty");
        return Ok(());
    }
    out.push(if flags & 0x02 != 0 { '[' } else { '(' });
    let mut pos = 1;
    let mut bound = |out: &mut String, infinite: bool| -> Result<(), Malformed> {
        if infinite {
            return Ok(());
        }
        let len = text::be_i32(b, pos)?.max(0) as usize;
        let v = b.get(pos + 4..pos + 4 + len).ok_or(Malformed)?;
        pos += 4 + len;
        let mut s = String::new();
        text_form(&mut s, sub, v)?;
        push_quoted(out, &s, b"()[],", true);
        Ok(())
    };
    bound(out, flags & 0x08 != 0)?;
    out.push(',');
    bound(out, flags & 0x10 != 0)?;
    out.push(if flags & 0x04 != 0 { ']' } else { ')' });
    Ok(())
}

fn multirange(out: &mut String, sub: &Type, b: &[u8]) -> Result<(), Malformed> {
    let n = text::be_i32(b, 0)?.max(0) as usize;
    let mut pos = 4;
    out.push('{');
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        let len = text::be_i32(b, pos)?.max(0) as usize;
        range(out, sub, b.get(pos + 4..pos + 4 + len).ok_or(Malformed)?)?;
        pos += 4 + len;
    }
    out.push('}');
    Ok(())
}

fn record(out: &mut String, fields: &[postgres_types::Field], b: &[u8]) -> Result<(), Malformed> {
    let n = text::be_i32(b, 0)?.max(0) as usize;
    let mut pos = 4;
    out.push('(');
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        let oid = text::be_i32(b, pos)? as u32;
        let len = text::be_i32(b, pos + 4)?;
        pos += 8;
        if len < 0 {
            continue;
        }
        let v = b.get(pos..pos + len as usize).ok_or(Malformed)?;
        pos += len as usize;
        // Anonymous records name non-built-in field types only by OID: those use the
        // printable-text-or-hex fallback.
        let ty = fields
            .get(i)
            .map(|f| f.type_().clone())
            .or_else(|| Type::from_oid(oid))
            .unwrap_or_else(|| Type::new(format!("oid{oid}"), oid, Kind::Pseudo, "pg_catalog".into()));
        let mut s = String::new();
        text_form(&mut s, &ty, v)?;
        push_quoted(out, &s, b"(),", true);
    }
    out.push(')');
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
        let mut t = String::new();
        text_form(&mut t, &Type::INT4_ARRAY, &b).unwrap();
        assert_eq!(t, "{{1,NULL},{3,4}}");
        assert_eq!(json(&Type::INT4_ARRAY, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23]), "[]");
    }

    #[test]
    fn fixes_look_through_arrays() {
        assert_eq!(fix_of(&Type::TIMESTAMPTZ_ARRAY, Int8Mode::String), Fix::Date);
        assert_eq!(fix_of(&Type::INT8, Int8Mode::BigInt), Fix::BigInt);
        assert_eq!(fix_of(&Type::INT8, Int8Mode::String), Fix::None);
        assert_eq!(fix_of(&Type::BYTEA_ARRAY, Int8Mode::String), Fix::Bytes);
    }
}
