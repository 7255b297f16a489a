//! Values that arrived in text format (the simple protocol of a multi-statement `query`) as
//! the same JSON their binary form gives, so a result reads the same whichever protocol ran
//! it. Only the types whose JSON is not their text need parsing (numbers, booleans, json,
//! bytea, timestamps); a text that does not parse is passed on as a string.

use super::{array_literal, json_str, write_text_json};
use crate::config::Int8Mode;
use postgres_types::{Kind, Type};

/// Appends the JSON of a text-format value of `ty`, as [`super::write_json`] does for its
/// binary form.
pub(crate) fn write_json(out: &mut String, ty: &Type, raw: Option<&str>, int8: Int8Mode) {
    let Some(s) = raw else {
        return out.push_str("null");
    };
    match ty.kind() {
        Kind::Domain(base) => return write_json(out, base, raw, int8),
        Kind::Array(elem) => {
            let mark = out.len();
            let delimiter = if *elem == Type::BOX { b';' } else { b',' };
            let mut item = |out: &mut String, v: Option<&str>| write_json(out, elem, v, int8);
            if array_literal::walk(out, s, delimiter, &mut item).is_err() {
                out.truncate(mark);
                json_str(out, s);
            }
            return;
        }
        Kind::Simple | Kind::Enum(_) => {}
        _ => return write_text_json(out, ty, Some(s.as_bytes())),
    }
    match *ty {
        Type::BOOL => out.push_str(if s == "t" { "true" } else { "false" }),
        Type::INT2 | Type::INT4 | Type::OID if is_integer(s) => out.push_str(s),
        Type::INT8 if is_integer(s) && int8 == Int8Mode::Number => out.push_str(s),
        Type::FLOAT4 | Type::FLOAT8 => match s.parse::<f64>() {
            Ok(v) if v.is_finite() => out.push_str(ryu::Buffer::new().format_finite(v)),
            _ => json_str(out, s),
        },
        Type::JSON | Type::JSONB => out.push_str(s),
        Type::BYTEA => bytea_hex(out, s),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => match timestamp_ms(s) {
            Some(ms) => out.push_str(itoa::Buffer::new().format(ms)),
            None => json_str(out, s),
        },
        _ => json_str(out, s),
    }
}

fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
}

/// bytea text (`\x…` hex, or the escape format) as the plain hex [`super::Fix::Bytes`] reads.
fn bytea_hex(out: &mut String, s: &str) {
    if let Some(hex) = s.strip_prefix("\\x") {
        return json_str(out, hex);
    }
    let b = s.as_bytes();
    let mut bytes = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                bytes.push(d.iter().fold(0u8, |v, c| (v << 3) | (c - b'0')));
                i += 4;
            }
            (b'\\', None) => {
                bytes.push(b'\\');
                i += 2;
            }
            (c, _) => {
                bytes.push(c);
                i += 1;
            }
        }
    }
    out.push('"');
    super::hex(out, &bytes);
    out.push('"');
}

/// ms since the Unix epoch of a timestamp in the ISO DateStyle (`2024-01-02 03:04:05.678+02`,
/// with ` BC` for years before 1), floored as the binary decoder floors microseconds.
/// `None` for 'infinity' and any other style: the text is then passed on.
fn timestamp_ms(s: &str) -> Option<i64> {
    let (s, bc) = match s.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let (date, rest) = s.split_once(' ')?;
    let mut ymd = date.rsplitn(3, '-');
    let (d, m, y) = (ymd.next()?, ymd.next()?, ymd.next()?);
    let year: i64 = y.parse().ok()?;
    let year = if bc { 1 - year } else { year };
    let (month, day): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    let zone_at = rest.find(['+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let mut hms = time.splitn(3, ':');
    let (h, mi, sec) = (hms.next()?, hms.next()?, hms.next()?);
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let seconds = h.parse::<i64>().ok()? * 3600 + mi.parse::<i64>().ok()? * 60 + whole.parse::<i64>().ok()?;
    let micros: i64 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    let days = super::text::days_from_civil(year, month, day);
    let total = (days * 86_400 + seconds - zone_seconds(zone)?) * 1_000_000 + micros;
    Some(total.div_euclid(1000))
}

/// `+02`, `-03:30`, `+05:53:28` as seconds east of UTC; `""` (no zone) is 0.
fn zone_seconds(zone: &str) -> Option<i64> {
    let Some(sign) = zone.chars().next() else {
        return Some(0);
    };
    let mut total = 0;
    for (part, unit) in zone[1..].split(':').zip([3600, 60, 1]) {
        total += part.parse::<i64>().ok()? * unit;
    }
    Some(if sign == '-' { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(ty: &Type, s: &str) -> String {
        let mut out = String::new();
        write_json(&mut out, ty, Some(s), Int8Mode::String);
        out
    }

    #[test]
    fn numbers_booleans_and_json() {
        assert_eq!(json(&Type::INT4, "-5"), "-5");
        assert_eq!(json(&Type::INT8, "9223372036854775807"), "\"9223372036854775807\"");
        assert_eq!(json(&Type::BOOL, "t"), "true");
        assert_eq!(json(&Type::FLOAT8, "1e+100"), "1e100");
        assert_eq!(json(&Type::FLOAT8, "NaN"), "\"NaN\"");
        assert_eq!(json(&Type::FLOAT4, "-Infinity"), "\"-Infinity\"");
        assert_eq!(json(&Type::JSONB, "{\"a\": 1}"), "{\"a\": 1}");
        assert_eq!(json(&Type::NUMERIC, "1.50"), "\"1.50\"");
    }

    #[test]
    fn bytea_in_both_output_formats() {
        assert_eq!(json(&Type::BYTEA, "\\x00ff"), "\"00ff\"");
        assert_eq!(json(&Type::BYTEA, "a\\000\\\\"), "\"61005c\"");
    }

    #[test]
    fn timestamps_as_the_binary_decoder_gives_them() {
        assert_eq!(json(&Type::TIMESTAMPTZ, "2000-01-01 00:00:00+00"), "946684800000");
        assert_eq!(json(&Type::TIMESTAMPTZ, "2000-01-01 02:30:00.0019+02:30"), "946684800001");
        assert_eq!(json(&Type::TIMESTAMP, "1969-12-31 23:59:59.9995"), "-1");
        assert_eq!(json(&Type::TIMESTAMP, "0001-01-01 00:00:00 BC"), "-62167219200000");
        assert_eq!(json(&Type::TIMESTAMPTZ, "infinity"), "\"infinity\"");
        assert_eq!(json(&Type::TIMESTAMP, "Sat Jan 01 00:00:00 2000"), "\"Sat Jan 01 00:00:00 2000\"");
    }

    #[test]
    fn arrays_of_parsed_elements() {
        assert_eq!(json(&Type::INT4_ARRAY, "{{1,NULL},{3,4}}"), "[[1,null],[3,4]]");
        assert_eq!(json(&Type::BOOL_ARRAY, "{t,f}"), "[true,false]");
        assert_eq!(json(&Type::TEXT_ARRAY, r#"{"a,b",c}"#), r#"["a,b","c"]"#);
        assert_eq!(json(&Type::BOX_ARRAY, "{(1,1),(0,0);(2,2),(1,1)}"), r#"["(1,1),(0,0)","(2,2),(1,1)"]"#);
    }
}
