//! Parameters, JavaScript → PostgreSQL.
//!
//! The JS layer (`lib/params.js`) turns each value into PostgreSQL's text input form (or null),
//! as `pg` does; here they are sent as text-format parameters whose type the server infers, so
//! a string works for any column type and nothing is ever interpolated into the SQL. Bytes (a
//! Buffer) come as NUL and their hex, which no text can be, and go in binary format, as `pg`
//! sends a Buffer: a bytea's bytes, or a text's UTF-8.

use bytes::BytesMut;
use postgres_types::{to_sql_checked, Format, IsNull, ToSql, Type};

/// One parameter in PostgreSQL's text input form; `None` is NULL.
#[derive(Debug, Clone)]
pub(crate) struct TextParam(pub Option<String>);

impl TextParam {
    /// The hex of a bytes parameter (after its NUL), if it is one.
    fn bytes_hex(&self) -> Option<&str> {
        self.0.as_deref().and_then(|s| s.strip_prefix('\0'))
    }
}

/// Hex digits → bytes, appended to `out`.
fn unhex(hex: &str, out: &mut BytesMut) -> Result<(), Box<dyn std::error::Error + Sync + Send>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err("a bytes parameter holds a non-hex digit"),
    };
    let h = hex.as_bytes();
    if !h.len().is_multiple_of(2) {
        return Err("a bytes parameter holds an odd number of hex digits".into());
    }
    out.reserve(h.len() / 2);
    for pair in h.chunks_exact(2) {
        out.extend_from_slice(&[(digit(pair[0])? << 4) | digit(pair[1])?]);
    }
    Ok(())
}

impl ToSql for TextParam {
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if let Some(hex) = self.bytes_hex() {
            unhex(hex, out)?;
            return Ok(IsNull::No);
        }
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(s) => {
                out.extend_from_slice(s.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        if self.bytes_hex().is_some() {
            Format::Binary
        } else {
            Format::Text
        }
    }

    to_sql_checked!();
}

/// Wraps the JS values for the driver.
pub(crate) fn text_params(values: Vec<Option<String>>) -> Vec<TextParam> {
    values.into_iter().map(TextParam).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_go_in_binary_format_as_their_bytes() {
        let p = TextParam(Some("\u{0}6162ff".into()));
        let mut out = BytesMut::new();
        assert!(matches!(p.to_sql(&Type::BYTEA, &mut out), Ok(IsNull::No)));
        assert_eq!(&out[..], b"ab\xff");
        assert!(matches!(p.encode_format(&Type::BYTEA), Format::Binary));
        let empty = TextParam(Some("\0".into()));
        let mut out = BytesMut::new();
        assert!(empty.to_sql(&Type::TEXT, &mut out).is_ok());
        assert!(out.is_empty());
        assert!(TextParam(Some("\0abc".into())).to_sql(&Type::BYTEA, &mut BytesMut::new()).is_err());
        assert!(matches!(TextParam(Some("x".into())).encode_format(&Type::TEXT), Format::Text));
    }
}
