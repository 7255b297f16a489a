//! Values as Prisma's driver adapters give them ([`Style::Prisma`], `@prisma/adapter-pg` the
//! reference), written here so that `pgwarden/prisma` hands rows on untouched:
//! - json and jsonb (and their arrays' elements) as their text: Prisma parses it itself, with
//!   its own precision;
//! - arrays of user-defined types (enums) as PostgreSQL's array literal text;
//! - timestamp and timestamptz (and their arrays) as the instant's ISO text in UTC with
//!   `+00:00` (`2024-06-01T12:00:00.123+00:00`, milliseconds, as JS `toISOString` writes them);
//!   'infinity' and '-infinity' stay;
//! - int8 as its decimal text, whatever the pool's `int8` option (see [`RowWriter::new`]).
//!
//! The form of each column is decided once, when its result starts ([`Form::of`]).
//!
//! [`Style::Prisma`]: super::Style::Prisma
//! [`RowWriter::new`]: super::result::RowWriter::new

use super::{array, array_in, array_literal, json_str, text, utf8, Brackets, Malformed, FIRST_USER_OID};
use postgres_types::{Kind, Type};

/// How the values of a column are written in Prisma's form (decided once per column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// json or jsonb as its text.
    Json { jsonb: bool },
    /// An array of json or jsonb, each element as its text (binary arrivals only).
    JsonArray { jsonb: bool },
    /// An array of a user-defined type (enum labels) as its array literal, built from binary.
    EnumArray,
    /// The same, arrived as text: the server's literal as it is.
    EnumLiteral,
    /// A timestamp as its ISO text (binary arrivals only).
    Instant,
    /// An array of timestamps, each as its ISO text (binary arrivals only).
    InstantArray,
}

impl Form {
    /// The form of a column of type `ty` whose values arrive as text (`text`) or in binary;
    /// None: its values are written as in every other style.
    pub(crate) fn of(ty: &Type, text: bool) -> Option<Form> {
        let base = base_of(ty);
        match base.kind() {
            Kind::Array(e) if e.oid() >= FIRST_USER_OID => Some(if text { Form::EnumLiteral } else { Form::EnumArray }),
            Kind::Array(e) if is_json(e) && !text => Some(Form::JsonArray { jsonb: *e == Type::JSONB }),
            Kind::Array(e) if is_instant(e) && !text => Some(Form::InstantArray),
            // jsonb's binary form leads with a version byte; its text form is the json text.
            _ if is_json(base) => Some(Form::Json { jsonb: *base == Type::JSONB && !text }),
            _ if is_instant(base) && !text => Some(Form::Instant),
            _ => None,
        }
    }

    /// Whether the column's values reach JS final, whatever its type's usual [`super::Fix`].
    pub(crate) fn is_final(self) -> bool {
        matches!(self, Form::Instant | Form::InstantArray)
    }

    /// Writes a value in this form and returns true; false (a malformed value) leaves it to
    /// [`super::write_json`] / [`super::write_text_json`].
    pub(crate) fn write(self, out: &mut String, raw: Option<&[u8]>) -> bool {
        let Some(b) = raw else {
            out.push_str("null");
            return true;
        };
        let mark = out.len();
        let ok = match self {
            Form::Json { jsonb } => json_text(out, jsonb, b),
            Form::EnumLiteral => utf8(b).map(|s| json_str(out, s)),
            Form::EnumArray => array_literal_text(out, b),
            Form::Instant => instant_json(out, b),
            Form::JsonArray { jsonb } => each(out, b, &mut |out, v| json_text(out, jsonb, v)),
            Form::InstantArray => each(out, b, &mut instant_json),
        };
        if ok.is_err() {
            out.truncate(mark);
            return false;
        }
        true
    }
}

/// Writes one non-null array element.
type Element<'a> = dyn FnMut(&mut String, &[u8]) -> Result<(), Malformed> + 'a;

/// A binary array as a JSON array, each element written by `item`.
fn each(out: &mut String, b: &[u8], item: &mut Element<'_>) -> Result<(), Malformed> {
    let mut failed = false;
    let walked = array(out, b, &mut |out, v| match v {
        None => out.push_str("null"),
        Some(v) => failed |= item(out, v).is_err(),
    });
    walked.and(if failed { Err(Malformed) } else { Ok(()) })
}

fn base_of(ty: &Type) -> &Type {
    match ty.kind() {
        Kind::Domain(base) => base,
        _ => ty,
    }
}

fn is_instant(ty: &Type) -> bool {
    matches!(*ty, Type::TIMESTAMP | Type::TIMESTAMPTZ)
}

fn is_json(ty: &Type) -> bool {
    matches!(*ty, Type::JSON | Type::JSONB)
}

/// A binary timestamp (µs since 2000-01-01) as a JSON string: its ISO text, or 'infinity'.
fn instant_json(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    match text::be_i64(b, 0)? {
        i64::MAX => out.push_str("\"infinity\""),
        i64::MIN => out.push_str("\"-infinity\""),
        us => {
            out.push('"');
            iso_utc(out, us.div_euclid(1000) + text::PG_EPOCH_DAYS * 86_400_000);
            out.push('"');
        }
    }
    Ok(())
}

/// ms since the Unix epoch as JS `Date.prototype.toISOString` writes them, with `+00:00` for
/// `Z`: four-digit years, or a sign and six digits outside 0000-9999.
fn iso_utc(out: &mut String, ms: i64) {
    let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = text::civil_from_days(days);
    let mut itoa = itoa::Buffer::new();
    if (0..=9999).contains(&y) {
        pad(out, &mut itoa, y, 4);
    } else {
        out.push(if y < 0 { '-' } else { '+' });
        pad(out, &mut itoa, y.abs(), 6);
    }
    let fields = [('-', i64::from(m), 2), ('-', i64::from(d), 2), ('T', in_day / 3_600_000, 2)];
    let clock = [(':', in_day / 60_000 % 60, 2), (':', in_day / 1000 % 60, 2), ('.', in_day % 1000, 3)];
    for (sep, v, width) in fields.into_iter().chain(clock) {
        out.push(sep);
        pad(out, &mut itoa, v, width);
    }
    out.push_str("+00:00");
}

/// `v` (≥ 0) with leading zeros to `width` digits.
fn pad(out: &mut String, itoa: &mut itoa::Buffer, v: i64, width: usize) {
    let digits = itoa.format(v);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

fn json_text(out: &mut String, jsonb: bool, b: &[u8]) -> Result<(), Malformed> {
    let text = if jsonb { b.split_first().filter(|(v, _)| **v == 1).ok_or(Malformed)?.1 } else { b };
    json_str(out, utf8(text)?);
    Ok(())
}

/// A binary array of text-like elements (enum labels) as the literal `{a,"b c",NULL}`.
fn array_literal_text(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    let mut literal = String::new();
    let mut element = |l: &mut String, item: Option<&[u8]>| match item.map(std::str::from_utf8) {
        Some(Ok(s)) => array_literal::push_element(l, s),
        _ => l.push_str("NULL"),
    };
    array_in(&mut literal, b, Brackets::LITERAL, &mut element)?;
    json_str(out, &literal);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other(name: &str, kind: Kind) -> Type {
        Type::new(name.into(), 99_999, kind, "public".into())
    }

    fn prisma(ty: &Type, b: &[u8]) -> String {
        let mut s = String::new();
        assert!(Form::of(ty, false).expect("a Prisma form").write(&mut s, Some(b)));
        s
    }

    #[test]
    fn json_and_enum_arrays_as_text() {
        assert_eq!(prisma(&Type::JSONB, b"\x01{\"n\": 12345678901234567890}"), r#""{\"n\": 12345678901234567890}""#);
        assert_eq!(prisma(&Type::JSON, b"[1, 2]"), r#""[1, 2]""#);
        let mut moods = Vec::new();
        for v in [1i32, 0, 99_999, 3, 1] {
            moods.extend_from_slice(&v.to_be_bytes());
        }
        for label in [&b"ok"[..], b"so so", b"NULL"] {
            moods.extend_from_slice(&(label.len() as i32).to_be_bytes());
            moods.extend_from_slice(label);
        }
        let mood_array = other("_mood", Kind::Array(other("mood", Kind::Enum(vec![]))));
        assert_eq!(prisma(&mood_array, &moods), r#""{ok,\"so so\",\"NULL\"}""#);
        assert_eq!(Form::of(&Type::INT4, false), None);
        assert_eq!(Form::of(&Type::TIMESTAMPTZ, true), None, "a timestamp as text keeps its usual form");
        assert_eq!(Form::of(&mood_array, true), Some(Form::EnumLiteral));
        assert_eq!(
            Form::of(&Type::JSONB, true),
            Some(Form::Json { jsonb: false }),
            "jsonb as text has no version byte"
        );
    }

    /// µs since 2000-01-01 of `ms` since the Unix epoch, as the server sends a timestamp.
    fn pg_us(ms: i64) -> [u8; 8] {
        ((ms - text::PG_EPOCH_DAYS * 86_400_000) * 1000).to_be_bytes()
    }

    #[test]
    fn instants_as_javascript_writes_them() {
        // The expected texts are Node's `new Date(ms).toISOString()` with `Z` → `+00:00`.
        let cases = [
            (1_717_243_200_123, "2024-06-01T12:00:00.123+00:00"),
            (0, "1970-01-01T00:00:00.000+00:00"),
            (-1, "1969-12-31T23:59:59.999+00:00"),
            (-3_976_991_192_000, "1843-12-23T00:13:28.000+00:00"),
            (-62_198_755_200_000, "-000001-01-01T00:00:00.000+00:00"),
            (253_402_300_800_000, "+010000-01-01T00:00:00.000+00:00"),
        ];
        for (ms, iso) in cases {
            assert_eq!(prisma(&Type::TIMESTAMPTZ, &pg_us(ms)), format!("\"{iso}\""), "{ms}");
            assert_eq!(prisma(&Type::TIMESTAMP, &pg_us(ms)), format!("\"{iso}\""), "{ms}");
        }
        assert_eq!(prisma(&Type::TIMESTAMPTZ, &i64::MAX.to_be_bytes()), "\"infinity\"");
        assert_eq!(prisma(&Type::TIMESTAMP, &i64::MIN.to_be_bytes()), "\"-infinity\"");
        // Microseconds are floored to the millisecond, as a Date holds them.
        let us = (1_717_243_200_123 - text::PG_EPOCH_DAYS * 86_400_000) * 1000 + 999;
        assert_eq!(prisma(&Type::TIMESTAMPTZ, &us.to_be_bytes()), "\"2024-06-01T12:00:00.123+00:00\"");
        let is_final = |ty: &Type| Form::of(ty, false).is_some_and(Form::is_final);
        assert!(is_final(&Type::TIMESTAMPTZ_ARRAY) && is_final(&Type::TIMESTAMP) && !is_final(&Type::DATE));
    }

    #[test]
    fn instant_arrays_element_by_element() {
        let mut b = Vec::new();
        for v in [1i32, 1, Type::TIMESTAMPTZ.oid() as i32, 2, 1] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&8i32.to_be_bytes());
        b.extend_from_slice(&pg_us(0));
        b.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(prisma(&Type::TIMESTAMPTZ_ARRAY, &b), r#"["1970-01-01T00:00:00.000+00:00",null]"#);
    }
}
