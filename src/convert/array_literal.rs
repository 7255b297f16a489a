//! PostgreSQL's array text (`{a,"b c",NULL,{d}}`) as JSON arrays of the element texts, for
//! arrays that arrive in text format (their element type has no binary decoder).

use super::json_str;

/// A literal that is not the array text the server writes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadLiteral;

/// Appends `literal` as nested JSON arrays of strings (NULL → null).
pub(crate) fn to_json(out: &mut String, literal: &str) -> Result<(), BadLiteral> {
    walk(out, literal, b',', &mut |out, item| match item {
        Some(v) => json_str(out, v),
        None => out.push_str("null"),
    })
}

/// Appends `literal` as nested JSON arrays, each element (its unquoted, unescaped text, or
/// `None` for NULL) written by `item`. `delimiter` is the element type's (`;` for box).
pub(crate) fn walk(
    out: &mut String,
    literal: &str,
    delimiter: u8,
    item: &mut dyn FnMut(&mut String, Option<&str>),
) -> Result<(), BadLiteral> {
    let b = literal.as_bytes();
    // Arrays whose lower bound is not 1 start with their dimensions: `[0:1]={…}`.
    let mut i = 0;
    if b.first() == Some(&b'[') {
        i = literal.find('=').ok_or(BadLiteral)? + 1;
    }
    let end = group(out, literal, i, delimiter, item)?;
    if end != b.len() {
        return Err(BadLiteral);
    }
    Ok(())
}

/// Writes the `{…}` group starting at `i`; returns the index after its `}`.
fn group(
    out: &mut String,
    s: &str,
    mut i: usize,
    delimiter: u8,
    item: &mut dyn FnMut(&mut String, Option<&str>),
) -> Result<usize, BadLiteral> {
    let b = s.as_bytes();
    if b.get(i) != Some(&b'{') {
        return Err(BadLiteral);
    }
    i += 1;
    out.push('[');
    if b.get(i) == Some(&b'}') {
        out.push(']');
        return Ok(i + 1);
    }
    let mut text = String::new();
    loop {
        match b.get(i) {
            Some(b'{') => i = group(out, s, i, delimiter, item)?,
            Some(b'"') => {
                text.clear();
                i = quoted(&mut text, s, i + 1)?;
                item(out, Some(&text));
            }
            Some(_) => {
                let start = i;
                while i < b.len() && b[i] != delimiter && b[i] != b'}' {
                    i += 1;
                }
                let raw = s[start..i].trim();
                if raw.eq_ignore_ascii_case("NULL") {
                    item(out, None);
                } else {
                    text.clear();
                    unescape(&mut text, raw);
                    item(out, Some(&text));
                }
            }
            None => return Err(BadLiteral),
        }
        match b.get(i) {
            Some(&c) if c == delimiter => {
                out.push(',');
                i += 1;
            }
            Some(b'}') => {
                out.push(']');
                return Ok(i + 1);
            }
            _ => return Err(BadLiteral),
        }
    }
}

/// Appends one element of an array literal, quoted when PostgreSQL would quote it (empty,
/// `NULL`, blanks, or any of `{},"\`), with `"` and `\` escaped.
pub(crate) fn push_element(out: &mut String, s: &str) {
    let needs_quotes = s.is_empty()
        || s.eq_ignore_ascii_case("NULL")
        || s.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
    if !needs_quotes {
        return out.push_str(s);
    }
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Reads a double-quoted element body from `i` (after the opening quote) into `item`.
fn quoted(item: &mut String, s: &str, mut i: usize) -> Result<usize, BadLiteral> {
    let b = s.as_bytes();
    let mut start = i;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                item.push_str(&s[start..i]);
                start = i + 1;
                i += 2;
            }
            b'"' => {
                item.push_str(&s[start..i]);
                return Ok(i + 1);
            }
            _ => i += 1,
        }
    }
    Err(BadLiteral)
}

fn unescape(item: &mut String, raw: &str) {
    let mut escaped = false;
    for ch in raw.chars() {
        if ch == '\\' && !escaped {
            escaped = true;
            continue;
        }
        escaped = false;
        item.push(ch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> Result<String, BadLiteral> {
        let mut out = String::new();
        to_json(&mut out, s).map(|()| out)
    }

    #[test]
    fn elements_quotes_nulls_and_nesting() {
        assert_eq!(json("{}").unwrap(), "[]");
        assert_eq!(json("{a,b}").unwrap(), r#"["a","b"]"#);
        assert_eq!(json(r#"{"a b","x\"y","z\\w",NULL,"NULL"}"#).unwrap(), r#"["a b","x\"y","z\\w",null,"NULL"]"#);
        assert_eq!(json("{{1,2},{3,NULL}}").unwrap(), r#"[["1","2"],["3",null]]"#);
        assert_eq!(json(r#"{"\"a\"=>\"1\""}"#).unwrap(), r#"["\"a\"=>\"1\""]"#);
        assert_eq!(json("[0:1]={x,y}").unwrap(), r#"["x","y"]"#);
        assert_eq!(json("{é,😀}").unwrap(), r#"["é","😀"]"#);
    }

    #[test]
    fn rejects_what_is_not_an_array() {
        assert_eq!(json("abc"), Err(BadLiteral));
        assert_eq!(json("{a,b"), Err(BadLiteral));
        assert_eq!(json("{\"a}"), Err(BadLiteral));
        assert_eq!(json("{a}x"), Err(BadLiteral));
    }
}
