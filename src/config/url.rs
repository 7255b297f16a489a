//! Connection URLs: parsing into parts, and hiding the password when one is shown.

use crate::error::Error;

/// The parts of a connection URL.
#[derive(Default)]
pub(super) struct ParsedUrl {
    /// Host, IP address (without brackets) or socket directory; empty when the URL has none.
    pub(super) host: String,
    /// Port, when the URL gives one.
    pub(super) port: Option<u16>,
    /// User, when the URL gives one.
    pub(super) user: Option<String>,
    /// Password, when the URL gives one.
    pub(super) password: Option<String>,
    /// Database, when the URL gives one.
    pub(super) database: Option<String>,
    /// Query parameters, in order.
    pub(super) params: Vec<(String, String)>,
}

/// Hides the password of a connection string, even one that does not parse: the user-info
/// password (up to the last `@`) and any `password=` query parameter become `***`.
pub(crate) fn redact_url(s: &str) -> String {
    let mut out = match s.rfind('@') {
        Some(at) => {
            let start = s.find("://").map(|p| p + 3).unwrap_or(0).min(at);
            match s[start..at].find(':') {
                Some(colon) => format!("{}:***{}", &s[..start + colon], &s[at..]),
                None => s.to_string(),
            }
        }
        None => s.to_string(),
    };
    let mut from = 0;
    while let Some(p) = out[from..].find("password=") {
        let begin = from + p + "password=".len();
        let end = out[begin..].find(['&', '#']).map(|e| begin + e).unwrap_or(out.len());
        out.replace_range(begin..end, "***");
        from = begin + 3;
    }
    out
}

/// Percent-decodes one part of a URL.
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Parses `raw`, a postgres:// URL; errors name `source` and show the URL without its password.
pub(super) fn parse_url(raw: &str, source: &str) -> Result<ParsedUrl, Error> {
    let bad = |why: &str| Error::Config(format!("Invalid connectionString from {source}: {why} ({})", redact_url(raw)));
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("unparsable URL: {e}")))?;
    if url.scheme() != "postgres" && url.scheme() != "postgresql" {
        return Err(bad("the scheme must be postgres:// or postgresql://"));
    }
    let host = url.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']').to_string();
    let user = Some(decode(url.username())).filter(|u| !u.is_empty());
    let password = url.password().map(decode);
    let database = Some(decode(url.path().trim_start_matches('/'))).filter(|d| !d.is_empty());
    let params = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    Ok(ParsedUrl { host, port: url.port(), user, password, database, params })
}
