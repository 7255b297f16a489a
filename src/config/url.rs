//! Connection URLs: parsing into parts, and hiding the password when one is shown.

use crate::error::Error;

/// The parts of a connection URL.
#[derive(Default)]
pub(super) struct ParsedUrl {
    /// Host, IP address (without brackets) or socket directory; several, comma-separated, for
    /// a URL that lists several (`h1:p1,h2:p2`); empty when the URL has none.
    pub(super) host: String,
    /// Port, when the URL gives one; for several hosts, their ports comma-separated (an empty
    /// entry where a host has none).
    pub(super) port: Option<String>,
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

/// The host list of a URL naming several hosts (`h1:p1,h2:p2`, as libpq reads it), which the
/// URL parser refuses: the URL with the list replaced by one placeholder host, and the hosts
/// and the ports, each comma-separated. `None` for a URL with one host.
fn host_list(raw: &str) -> Option<(String, String, String)> {
    let start = raw.find("://")? + 3;
    // The user info ends at the last `@`, as `redact_url` reads it: a password may hold `,`, `/`,
    // `?` or `#` unencoded, and none of it may be taken for a host or a port.
    let at = raw.rfind('@').filter(|&a| a >= start).map_or(start, |a| a + 1);
    let end = raw[at..].find(['/', '?', '#']).map_or(raw.len(), |e| at + e);
    let list = &raw[at..end];
    if !list.contains(',') {
        return None;
    }
    let (hosts, ports): (Vec<String>, Vec<String>) = list.split(',').map(host_and_port).unzip();
    Some((format!("{}several-hosts{}", &raw[..at], &raw[end..]), hosts.join(","), ports.join(",")))
}

/// `host[:port]` or `[ipv6][:port]` as (decoded host, port text; empty when none).
fn host_and_port(entry: &str) -> (String, String) {
    let (host, port) = match entry.strip_prefix('[').and_then(|e| e.split_once(']')) {
        Some((v6, rest)) => (v6, rest.strip_prefix(':').unwrap_or("")),
        None => entry.rsplit_once(':').unwrap_or((entry, "")),
    };
    (decode(host), port.to_string())
}

/// Parses `raw`, a postgres:// URL; errors name `source` and show the URL without its password.
pub(super) fn parse_url(raw: &str, source: &str) -> Result<ParsedUrl, Error> {
    let bad = |why: &str| Error::Config(format!("Invalid connectionString from {source}: {why} ({})", redact_url(raw)));
    let list = host_list(raw);
    let parsable = list.as_ref().map_or(raw, |(rewritten, _, _)| rewritten.as_str());
    let url = url::Url::parse(parsable).map_err(|e| bad(&format!("unparsable URL: {e}")))?;
    if url.scheme() != "postgres" && url.scheme() != "postgresql" {
        return Err(bad("the scheme must be postgres:// or postgresql://"));
    }
    let (host, port) = match list {
        Some((_, hosts, ports)) => (hosts, Some(ports).filter(|p| p.chars().any(|c| c != ','))),
        None => (
            url.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']').to_string(),
            url.port().map(|p| p.to_string()),
        ),
    };
    let user = Some(decode(url.username())).filter(|u| !u.is_empty());
    let password = url.password().map(decode);
    let database = Some(decode(url.path().trim_start_matches('/'))).filter(|d| !d.is_empty());
    let params = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    Ok(ParsedUrl { host, port, user, password, database, params })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_lists_are_read_after_the_password() {
        let (url, hosts, ports) = host_list("postgres://u:p@a:1,[::1]:2,b/db?x=1").unwrap();
        assert_eq!((hosts.as_str(), ports.as_str()), ("a,::1,b", "1,2,"));
        assert_eq!(url, "postgres://u:p@several-hosts/db?x=1");
        // A password with `,` and `#` in it is never read as hosts or ports.
        assert!(host_list("postgres://app:Xy,9#k@db.example.com/app").is_none());
        assert!(host_list("postgres://app:1234,5#x@db/app").is_none());
        let e = parse_url("postgres://app:Xy,9#k@db.example.com/app", "option connectionString").err();
        assert!(e.is_none_or(|e| !e.message().contains("Xy")), "no part of the password in the error");
    }
}
