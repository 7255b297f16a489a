//! Text forms of the less common types: geometry, tid/xid, tsvector.

use super::text::{be_i32, float};
use super::Malformed;
use std::fmt::Write;

fn f64_at(b: &[u8], i: usize) -> Result<f64, Malformed> {
    Ok(f64::from_be_bytes(b.get(i * 8..i * 8 + 8).ok_or(Malformed)?.try_into().map_err(|_| Malformed)?))
}

fn point_at(out: &mut String, b: &[u8], i: usize) -> Result<(), Malformed> {
    out.push('(');
    float(out, f64_at(b, i)?);
    out.push(',');
    float(out, f64_at(b, i + 1)?);
    out.push(')');
    Ok(())
}

/// point `(x,y)`.
pub(crate) fn point(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    point_at(out, b, 0)
}

/// box `(x1,y1),(x2,y2)` (high corner first).
pub(crate) fn pg_box(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    point_at(out, b, 0)?;
    out.push(',');
    point_at(out, b, 2)
}

/// lseg `[(x1,y1),(x2,y2)]`.
pub(crate) fn lseg(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    out.push('[');
    pg_box(out, b)?;
    out.push(']');
    Ok(())
}

/// line `{A,B,C}`.
pub(crate) fn line(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    out.push('{');
    for i in 0..3 {
        if i > 0 {
            out.push(',');
        }
        float(out, f64_at(b, i)?);
    }
    out.push('}');
    Ok(())
}

/// circle `<(x,y),r>`.
pub(crate) fn circle(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    out.push('<');
    point_at(out, b, 0)?;
    out.push(',');
    float(out, f64_at(b, 2)?);
    out.push('>');
    Ok(())
}

fn points(out: &mut String, b: &[u8], n: usize, open: char, close: char) -> Result<(), Malformed> {
    out.push(open);
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        point_at(out, b, 2 * i)?;
    }
    out.push(close);
    Ok(())
}

/// path: closed `((x,y),…)` or open `[(x,y),…]`.
pub(crate) fn path(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    let closed = *b.first().ok_or(Malformed)? != 0;
    let n = be_i32(b, 1)?.max(0) as usize;
    let rest = b.get(5..).ok_or(Malformed)?;
    if closed {
        points(out, rest, n, '(', ')')
    } else {
        points(out, rest, n, '[', ']')
    }
}

/// polygon `((x,y),…)`.
pub(crate) fn polygon(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    let n = be_i32(b, 0)?.max(0) as usize;
    points(out, b.get(4..).ok_or(Malformed)?, n, '(', ')')
}

/// tid `(block,offset)`.
pub(crate) fn tid(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    let block = be_i32(b, 0)? as u32;
    let offset = u16::from_be_bytes(b.get(4..6).ok_or(Malformed)?.try_into().map_err(|_| Malformed)?);
    let _ = write!(out, "({block},{offset})");
    Ok(())
}

/// xid / cid / regproc-free unsigned 32-bit ids.
pub(crate) fn u32_text(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    let _ = write!(out, "{}", be_i32(b, 0)? as u32);
    Ok(())
}

/// tsvector: `'lexeme':1A,2 'other'`.
pub(crate) fn tsvector(out: &mut String, b: &[u8]) -> Result<(), Malformed> {
    let n = be_i32(b, 0)?.max(0) as usize;
    let mut pos = 4;
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        let end = pos + b.get(pos..).ok_or(Malformed)?.iter().position(|c| *c == 0).ok_or(Malformed)?;
        let lexeme = std::str::from_utf8(&b[pos..end]).map_err(|_| Malformed)?;
        pos = end + 1;
        out.push('\'');
        for ch in lexeme.chars() {
            if ch == '\'' || ch == '\\' {
                out.push(ch);
            }
            out.push(ch);
        }
        out.push('\'');
        let npos =
            u16::from_be_bytes(b.get(pos..pos + 2).ok_or(Malformed)?.try_into().map_err(|_| Malformed)?) as usize;
        pos += 2;
        for k in 0..npos {
            let wp = u16::from_be_bytes(b.get(pos..pos + 2).ok_or(Malformed)?.try_into().map_err(|_| Malformed)?);
            pos += 2;
            out.push(if k == 0 { ':' } else { ',' });
            let _ = write!(out, "{}", wp & 0x3fff);
            match wp >> 14 {
                3 => out.push('A'),
                2 => out.push('B'),
                1 => out.push('C'),
                _ => {}
            }
        }
    }
    Ok(())
}
