//! PostgreSQL's text output forms, rebuilt from binary values.
//!
//! Results arrive in binary format; types that reach JavaScript as strings (numeric, date,
//! time, interval, uuid, network types, ranges, records, ...) are printed here exactly as the
//! server would print them (DateStyle ISO, IntervalStyle postgres, TimeZone UTC).

use super::Malformed;
use std::fmt::Write;

const USECS_PER_SEC: i64 = 1_000_000;
/// Days from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
pub(crate) const PG_EPOCH_DAYS: i64 = 10_957;

fn be_i16(b: &[u8], at: usize) -> Result<i16, Malformed> {
    Ok(i16::from_be_bytes(b.get(at..at + 2).ok_or(Malformed)?.try_into().map_err(|_| Malformed)?))
}

/// Big-endian i32 at `at`.
pub(crate) fn be_i32(b: &[u8], at: usize) -> Result<i32, Malformed> {
    Ok(i32::from_be_bytes(b.get(at..at + 4).ok_or(Malformed)?.try_into().map_err(|_| Malformed)?))
}

/// Big-endian i64 at `at`.
pub(crate) fn be_i64(b: &[u8], at: usize) -> Result<i64, Malformed> {
    Ok(i64::from_be_bytes(b.get(at..at + 8).ok_or(Malformed)?.try_into().map_err(|_| Malformed)?))
}

/// numeric: base-10000 digits to the exact decimal string ('NaN', 'Infinity', '-Infinity' too).
pub(crate) fn numeric(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    let ndigits = be_i16(b, 0)? as i32;
    let weight = be_i16(b, 2)? as i32;
    let sign = u16::from_be_bytes([*b.get(4).ok_or(Malformed)?, *b.get(5).ok_or(Malformed)?]);
    let dscale = be_i16(b, 6)?.max(0) as usize;
    match sign {
        0xC000 => {
            out.push_str("NaN");
            return Ok(());
        }
        0xD000 => {
            out.push_str("Infinity");
            return Ok(());
        }
        0xF000 => {
            out.push_str("-Infinity");
            return Ok(());
        }
        0x4000 => out.push('-'),
        _ => {}
    }
    let digit = |k: i32| -> Result<i32, Malformed> {
        if k < 0 || k >= ndigits {
            Ok(0)
        } else {
            Ok(be_i16(b, 8 + 2 * k as usize)? as i32)
        }
    };
    if weight < 0 {
        out.push('0');
    } else {
        for pos in (0..=weight).rev() {
            let d = digit(weight - pos)?;
            if pos == weight {
                out.push_str(itoa::Buffer::new().format(d));
            } else {
                push4(out, d);
            }
        }
    }
    if dscale > 0 {
        out.push('.');
        let mut frac = String::with_capacity(dscale + 4);
        let mut pos = -1;
        while frac.len() < dscale {
            push4(&mut frac, digit(weight - pos)?);
            pos -= 1;
        }
        out.push_str(&frac[..dscale]);
    }
    Ok(())
}

/// A base-10000 digit as exactly four decimal digits (formatting machinery is too slow here).
fn push4(out: &mut String, d: i32) {
    let d = d.clamp(0, 9999) as u32;
    for div in [1000, 100, 10, 1] {
        out.push(char::from(b'0' + (d / div % 10) as u8));
    }
}

/// A byte as two lowercase hex digits.
fn push_hex(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(char::from(HEX[(byte >> 4) as usize]));
    out.push(char::from(HEX[(byte & 15) as usize]));
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year 0 is 1 BC); the inverse of
/// [`civil_from_days`].
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) in the proleptic Gregorian calendar from days since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// date from days since 2000-01-01: 'YYYY-MM-DD', 'infinity', '-infinity', 'YYYY-MM-DD BC'.
pub(crate) fn date(out: &mut String, days: i32) {
    match days {
        i32::MAX => out.push_str("infinity"),
        i32::MIN => out.push_str("-infinity"),
        _ => {
            let (y, m, d) = civil_from_days(days as i64 + PG_EPOCH_DAYS);
            write_ymd(out, y, m, d);
            if y <= 0 {
                out.push_str(" BC");
            }
        }
    }
}

fn write_ymd(out: &mut String, y: i64, m: u32, d: u32) {
    let _ = write!(out, "{:04}-{m:02}-{d:02}", if y <= 0 { 1 - y } else { y });
}

/// `HH:MM:SS[.ffffff]` with trailing zeros of the fraction trimmed, as the server prints.
pub(crate) fn time_of_day(out: &mut String, usecs: i64) {
    let neg = usecs < 0;
    let u = usecs.unsigned_abs() as i64;
    let (h, rem) = (u / 3_600_000_000, u % 3_600_000_000);
    let (mi, rem) = (rem / 60_000_000, rem % 60_000_000);
    let (s, frac) = (rem / USECS_PER_SEC, rem % USECS_PER_SEC);
    if neg {
        out.push('-');
    }
    let _ = write!(out, "{h:02}:{mi:02}:{s:02}");
    fraction(out, frac);
}

fn fraction(out: &mut String, frac: i64) {
    if frac != 0 {
        let mut f = format!("{:06}", frac.abs());
        while f.ends_with('0') {
            f.pop();
        }
        out.push('.');
        out.push_str(&f);
    }
}

/// timetz: time of day and the zone offset (seconds west of UTC, as sent).
pub(crate) fn timetz(out: &mut String, usecs: i64, zone_west: i32) {
    time_of_day(out, usecs);
    let east = -zone_west;
    let a = east.unsigned_abs();
    let _ = write!(out, "{}{:02}", if east < 0 { '-' } else { '+' }, a / 3600);
    if !a.is_multiple_of(3600) {
        let _ = write!(out, ":{:02}", (a % 3600) / 60);
        if !a.is_multiple_of(60) {
            let _ = write!(out, ":{:02}", a % 60);
        }
    }
}

/// interval in IntervalStyle 'postgres': `1 year 2 mons 3 days 04:05:06.7`.
pub(crate) fn interval(out: &mut String, usecs: i64, days: i32, months: i32) {
    let mut is_zero = true;
    let mut is_before = false;
    let mut part = |out: &mut String, v: i64, unit: &str| {
        if v == 0 {
            return;
        }
        let _ = write!(
            out,
            "{}{}{v} {unit}{}",
            if is_zero { "" } else { " " },
            if is_before && v > 0 { "+" } else { "" },
            if v != 1 { "s" } else { "" }
        );
        is_before = v < 0;
        is_zero = false;
    };
    part(out, (months / 12) as i64, "year");
    part(out, (months % 12) as i64, "mon");
    part(out, days as i64, "day");
    if is_zero || usecs != 0 {
        let minus = usecs < 0;
        let _ = write!(
            out,
            "{}{}",
            if is_zero { "" } else { " " },
            if minus {
                "-"
            } else if is_before {
                "+"
            } else {
                ""
            }
        );
        time_of_day(out, usecs.saturating_abs());
    }
}

/// uuid: lowercase hyphenated.
pub(crate) fn uuid(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    if b.len() != 16 {
        return Err(Malformed);
    }
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        push_hex(out, *byte);
    }
    Ok(())
}

/// inet / cidr: address, with `/bits` when it is not a single host (always for cidr).
pub(crate) fn inet(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    let (family, bits, is_cidr, n) = (
        *b.first().ok_or(Malformed)?,
        *b.get(1).ok_or(Malformed)?,
        b.get(2) == Some(&1),
        *b.get(3).ok_or(Malformed)? as usize,
    );
    let addr = b.get(4..4 + n).ok_or(Malformed)?;
    let max = match family {
        2 => {
            let a: [u8; 4] = addr.try_into().map_err(|_| Malformed)?;
            let _ = write!(out, "{}", std::net::Ipv4Addr::from(a));
            32
        }
        3 => {
            let a: [u8; 16] = addr.try_into().map_err(|_| Malformed)?;
            // PostgreSQL prints IPv4-compatible addresses (::a.b.c.d) dotted, as it does mapped ones.
            if a[..12].iter().all(|b| *b == 0) && (a[12] != 0 || a[13] != 0) {
                let _ = write!(out, "::{}.{}.{}.{}", a[12], a[13], a[14], a[15]);
            } else {
                let _ = write!(out, "{}", std::net::Ipv6Addr::from(a));
            }
            128
        }
        _ => return Err(Malformed),
    };
    if is_cidr || bits != max {
        let _ = write!(out, "/{bits}");
    }
    Ok(())
}

/// macaddr / macaddr8: colon-separated lowercase hex.
pub(crate) fn macaddr(out: &mut String, b: &[u8]) {
    for (i, byte) in b.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        push_hex(out, *byte);
    }
}

/// bit / varbit: a string of 0s and 1s.
pub(crate) fn bits(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    let n = be_i32(b, 0)?.max(0) as usize;
    let data = b.get(4..).ok_or(Malformed)?;
    for i in 0..n {
        let byte = *data.get(i / 8).ok_or(Malformed)?;
        out.push(if byte & (0x80 >> (i % 8)) != 0 { '1' } else { '0' });
    }
    Ok(())
}

/// A float8 as the server prints it (shortest round-trip digits, `1e-05`, `1e+20`, `-0`).
pub(crate) fn float(out: &mut String, v: f64) {
    float_text(out, v.is_sign_negative(), v, ryu::Buffer::new().format(v), 15);
}

/// Reformats ryu's shortest digits the way PostgreSQL's float output does: fixed notation
/// for decimal exponents in [-4, max_fixed), otherwise `d.ddde±XX`.
fn float_text(out: &mut String, negative: bool, v: f64, shortest: &str, max_fixed: i32) {
    if v.is_nan() {
        return out.push_str("NaN");
    }
    if v.is_infinite() {
        return out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
    }
    let body = shortest.trim_start_matches('-');
    let (mantissa, exp10) = match body.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = format!("{int_part}{frac_part}");
    let mut point = int_part.len() as i32 + exp10;
    let lead = digits.len() - digits.trim_start_matches('0').len();
    digits.drain(..lead);
    point -= lead as i32;
    while digits.ends_with('0') {
        digits.pop();
    }
    if negative {
        out.push('-');
    }
    if digits.is_empty() {
        return out.push('0');
    }
    let x = point - 1;
    if x < -4 || x >= max_fixed {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if x < 0 { '-' } else { '+' }, x.abs());
    } else if x >= 0 {
        let int_len = (x + 1) as usize;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-x - 1) as usize));
        out.push_str(&digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(ndigits: i16, weight: i16, sign: u16, dscale: i16, digits: &[i16]) -> String {
        let mut b = Vec::new();
        for v in [ndigits, weight] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(&sign.to_be_bytes());
        b.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        let mut s = String::new();
        numeric(&mut s, &b).unwrap();
        s
    }

    #[test]
    fn numerics() {
        assert_eq!(num(0, 0, 0, 0, &[]), "0");
        assert_eq!(num(0, 0, 0, 3, &[]), "0.000");
        assert_eq!(num(2, 1, 0, 0, &[12, 3456]), "123456");
        assert_eq!(num(2, 0, 0x4000, 2, &[1, 2500]), "-1.25");
        assert_eq!(num(1, -8, 0, 30, &[100]), "0.000000000000000000000000000001");
        assert_eq!(num(0, 0, 0xC000, 0, &[]), "NaN");
        assert_eq!(num(0, 0, 0xF000, 0, &[]), "-Infinity");
        assert_eq!(num(1, 2, 0, 0, &[5]), "500000000");
    }

    #[test]
    fn dates_and_times() {
        let s = |f: &dyn Fn(&mut String)| {
            let mut o = String::new();
            f(&mut o);
            o
        };
        assert_eq!(s(&|o| date(o, 0)), "2000-01-01");
        assert_eq!(s(&|o| date(o, -730_120)), "0001-12-31 BC");
        assert_eq!(s(&|o| date(o, -730_119)), "0001-01-01");
        assert_eq!(s(&|o| date(o, i32::MAX)), "infinity");
        assert_eq!(s(&|o| time_of_day(o, 45_296_789_000)), "12:34:56.789");
        assert_eq!(s(&|o| timetz(o, 0, -19_800)), "00:00:00+05:30");
        assert_eq!(s(&|o| interval(o, 14_706_789_000, 3, 14)), "1 year 2 mons 3 days 04:05:06.789");
        assert_eq!(s(&|o| interval(o, 0, 0, 0)), "00:00:00");
        assert_eq!(s(&|o| interval(o, -3_600_000_000, 1, 0)), "1 day -01:00:00");
        assert_eq!(s(&|o| interval(o, 0, -1, 0)), "-1 days");
        assert_eq!(s(&|o| float(o, 1e30)), "1e+30");
        assert_eq!(s(&|o| float(o, 2.0)), "2");
        assert_eq!(s(&|o| float(o, 1e-5)), "1e-05");
        assert_eq!(s(&|o| float(o, 0.0001)), "0.0001");
        assert_eq!(s(&|o| float(o, -0.0)), "-0");
        assert_eq!(s(&|o| float(o, 123.456)), "123.456");
        assert_eq!(s(&|o| float(o, 1e15)), "1e+15");
        assert_eq!(s(&|o| float(o, 1e14)), "100000000000000");
        assert_eq!(s(&|o| float(o, -2.5e-7)), "-2.5e-07");
    }
}
