//! Settings whose reading is special: the connection URL and its parts, TLS, the circuit
//! breaker. Their names, URL keys and defaults still come from the table.

use super::pgpass;
use super::read::{config_error, Inputs, Raw, Source};
use super::table::{self, DefaultValue, Setting};
use super::url::{parse_url, ParsedUrl};
use super::{Secret, Settings, SslMode, SslSettings};
use crate::error::Error;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The error for a table row whose shape its resolver does not expect (a bug).
fn bad_row(s: &Setting) -> Error {
    Error::Internal(format!("the configuration table row of {} does not fit its resolver", s.option))
}

/// The connection URL of row `s`: the option, else the first of its environment variables set.
/// Without either, an address given by its parts (options such as `host`, or libpq's PGHOST,
/// PGUSER, …) starts from an empty URL.
pub(super) fn connection_url(
    s: &Setting,
    options: &Map<String, Value>,
    env: &HashMap<String, String>,
) -> Result<ParsedUrl, Error> {
    let (raw, source) = match options.get(s.option).filter(|v| !v.is_null()) {
        Some(Value::String(url)) => (url, Source::Option(s.option)),
        Some(other) => return Err(config_error(s.option, &Source::Option(s.option), other, "a string")),
        None => match s.env.iter().find_map(|name| Some((env.get(*name)?, Source::Env(name)))) {
            Some(found) => found,
            None if given_by_parts(options, env) => return Ok(ParsedUrl::default()),
            None => {
                let vars = s.env.join(" or ");
                return Err(Error::Config(format!("No connection string: pass {{ {} }} or set {vars}", s.option)));
            }
        },
    };
    parse_url(raw, &source.to_string())
}

/// Whether an address part is given as an option or by its libpq environment variable.
fn given_by_parts(options: &Map<String, Value>, env: &HashMap<String, String>) -> bool {
    table::address_rows()
        .any(|r| options.get(r.option).is_some_and(|v| !v.is_null()) || r.env.iter().any(|e| env.contains_key(*e)))
}

/// Where to connect and as whom.
pub(super) struct Address {
    /// Every host with its port, in the order given (libpq's multi-host lists).
    pub(super) hosts: Vec<(String, u16)>,
    /// Role.
    pub(super) user: String,
    /// Password, if any.
    pub(super) password: Option<Secret>,
    /// For several hosts whose password came from the password file: each host's own (empty
    /// otherwise, when `password` serves every host).
    pub(super) host_passwords: Vec<Option<Secret>>,
    /// Database.
    pub(super) database: String,
    /// Where each part came from, by option name.
    pub(super) sources: Vec<(&'static str, String)>,
}

/// The address: each part from its option, its URL parameter, the URL's own part, or its
/// environment variable (the primary only: `inputs`), else, for a replica, the primary's
/// (`base`: user, password and database), else its default. A password found nowhere is
/// looked up in the password file `passfile` (a warning when the file's permissions are open).
pub(super) fn address(
    url: ParsedUrl,
    inputs: Option<&Inputs>,
    params: &HashMap<String, String>,
    base: Option<&Settings>,
    passfile: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Address, Error> {
    let mut sources = Vec::new();
    let mut part = |name: &'static str, from_url: Option<String>, from_base: Option<String>| {
        let row = table::setting(name)?;
        let found = found_part(row, inputs, params, from_url)?.or_else(|| from_base.map(|v| (v, "the primary".into())));
        sources.push((row.option, found.as_ref().map_or_else(|| "default".to_string(), |(_, from)| from.clone())));
        Ok::<_, Error>(found)
    };
    let value = |found: Option<(String, String)>| found.map(|(v, _)| v);
    let host = match value(part("host", Some(url.host).filter(|h| !h.is_empty()), None)?) {
        Some(host) => host,
        None => text_default("host")?,
    };
    let hosts = pair_ports(&host, part("port", url.port, None)?)?;
    let (host, port) = hosts[0].clone();
    let user = match value(part("user", url.user, base.map(|b| b.user.clone()))?) {
        Some(user) => user,
        None => text_default("user")?,
    };
    let given = value(part("password", url.password, None)?);
    let database =
        value(part("database", url.database, base.map(|b| b.database.clone()))?).unwrap_or_else(|| user.clone());
    let mut password = given.map(Secret).or_else(|| base.and_then(|b| b.password.clone()));
    let mut host_passwords = Vec::new();
    if password.is_none() {
        if let Some(path) = passfile.map(expand_home) {
            match pgpass::read(&path) {
                Ok(Some(contents)) => {
                    // Each host its own line, as libpq looks them up: one host's password is
                    // never sent to another.
                    host_passwords = hosts
                        .iter()
                        .map(|(h, p)| pgpass::lookup(&contents, h, *p, &database, &user).map(Secret))
                        .collect();
                    password = pgpass::lookup(&contents, &host, port, &database, &user).map(Secret);
                    if host_passwords.len() < 2 {
                        host_passwords.clear();
                    }
                    if host_passwords.iter().any(Option::is_some) || password.is_some() {
                        if let Some(p) = sources.iter_mut().find(|(n, _)| *n == "password") {
                            p.1 = format!("password file {}", path.display());
                        }
                    }
                }
                Ok(None) => {}
                Err(warning) => warnings.push(warning),
            }
        }
    }
    Ok(Address { hosts, user, password, database, host_passwords, sources })
}

/// The default of an address part that is text (`host`, `user`), from the settings table.
fn text_default(option: &str) -> Result<String, Error> {
    match table::setting(option)?.default {
        DefaultValue::Str(s) => Ok(s.to_string()),
        other => Err(Error::Internal(format!("{option} has no text default ({other:?})"))),
    }
}

/// The default port, from the settings table.
fn default_port() -> Result<u16, Error> {
    match table::setting("port")?.default {
        DefaultValue::Num(n) => Ok(n as u16),
        other => Err(Error::Internal(format!("port has no numeric default ({other:?})"))),
    }
}

/// Pairs a host list (`a,b`) with its ports as libpq does: one port for every host, or one per
/// host (an empty entry, or no port at all, is the default port, 5432).
fn pair_ports(hosts: &str, ports: Option<(String, String)>) -> Result<Vec<(String, u16)>, Error> {
    let hosts: Vec<&str> = hosts.split(',').map(str::trim).collect();
    if hosts.iter().any(|h| h.is_empty()) {
        return Err(Error::Config(format!("Invalid host list '{}': an entry is empty", hosts.join(","))));
    }
    let (text, from) = ports.unwrap_or_default();
    let parsed = text
        .split(',')
        .map(|p| match p.trim() {
            "" => default_port(),
            p => p
                .parse::<u16>()
                .map_err(|_| Error::Config(format!("Invalid port: '{p}' from {from} (expected a port number)"))),
        })
        .collect::<Result<Vec<u16>, Error>>()?;
    match parsed.len() {
        1 => Ok(hosts.iter().map(|h| (h.to_string(), parsed[0])).collect()),
        n if n == hosts.len() => Ok(hosts.iter().map(|h| h.to_string()).zip(parsed).collect()),
        n => Err(Error::Config(format!(
            "Invalid port list '{text}' from {from}: {n} ports for {} hosts (give one port, or one per host)",
            hosts.len()
        ))),
    }
}

/// A part's value and where it came from: its option, its URL parameter, the URL's own part,
/// then its environment variable (options and environment are the primary's only).
fn found_part(
    row: &'static Setting,
    inputs: Option<&Inputs>,
    params: &HashMap<String, String>,
    from_url: Option<String>,
) -> Result<Option<(String, String)>, Error> {
    if let Some(v) = inputs.and_then(|i| i.options.get(row.option)).filter(|v| !v.is_null()) {
        return match v {
            Value::String(s) => Ok(Some((s.clone(), format!("option {}", row.option)))),
            Value::Number(n) if row.option == "port" => Ok(Some((n.to_string(), format!("option {}", row.option)))),
            other => Err(config_error(row.option, &Source::Option(row.option), other, "a string")),
        };
    }
    if let Some(v) = row.url.iter().find_map(|k| params.get(*k)) {
        return Ok(Some((v.clone(), format!("URL parameter {}", row.url[0]))));
    }
    if let Some(v) = from_url {
        return Ok(Some((v, "connectionString".into())));
    }
    let env = inputs.map(|i| i.env);
    Ok(row.env.iter().find_map(|name| Some((env?.get(*name)?.clone(), format!("environment variable {name}")))))
}

/// `~/…` with the home directory, as libpq reads its password file.
fn expand_home(path: &str) -> std::path::PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => std::path::Path::new(&home).join(rest),
        _ => path.into(),
    }
}

/// The modes the `ssl` option and the sslmode URL parameter accept, for error messages.
const MODES: &str = "disable, prefer, require, verify-ca or verify-full";

/// TLS from row `s`: its URL keys (mode, root certificate, certificate, key, in that order),
/// then the option (a boolean, a mode string, or `{ mode, rejectUnauthorized, ca, cert, key }`).
pub(super) fn ssl(s: &Setting, inputs: &Inputs) -> Result<SslSettings, Error> {
    let (&[mode_key, root_key, cert_key, key_key], DefaultValue::Ssl(default_mode)) = (s.url, s.default) else {
        return Err(bad_row(s));
    };
    let from_env = s.env.iter().find_map(|name| Some((inputs.env.get(*name)?, Source::Env(name))));
    let mode = match inputs.url.get(mode_key).map(|m| (m, Source::Url(mode_key))).or(from_env) {
        None => default_mode,
        Some((m, source)) => {
            SslMode::parse(m).ok_or_else(|| config_error(s.option, &source, Raw::Text(m.clone()), MODES))?
        }
    };
    let mut ssl = SslSettings {
        mode,
        root_cert: inputs.url.get(root_key).cloned(),
        cert: inputs.url.get(cert_key).cloned(),
        key: inputs.url.get(key_key).cloned(),
    };
    ssl_option(s, inputs.options.get(s.option), &mut ssl)?;
    Ok(ssl)
}

/// Applies the `ssl` option, when given, over the URL's TLS settings.
fn ssl_option(s: &Setting, option: Option<&Value>, ssl: &mut SslSettings) -> Result<(), Error> {
    let source = Source::Option(s.option);
    let parse_mode =
        |m: &String| SslMode::parse(m).ok_or_else(|| config_error(s.option, &source, Raw::Text(m.clone()), MODES));
    match option {
        None | Some(Value::Null) => {}
        Some(Value::Bool(false)) => ssl.mode = SslMode::Disable,
        // As in `pg`: `ssl: true` verifies the certificate.
        Some(Value::Bool(true)) => ssl.mode = SslMode::VerifyFull,
        Some(Value::String(m)) => ssl.mode = parse_mode(m)?,
        Some(Value::Object(o)) => {
            ssl.mode = match (o.get("mode"), o.get("rejectUnauthorized")) {
                (Some(Value::String(m)), _) => parse_mode(m)?,
                (Some(other), _) => return Err(config_error(s.option, &source, other, "a mode string")),
                (None, Some(Value::Bool(false))) => SslMode::Require,
                _ => SslMode::VerifyFull,
            };
            for (field, slot) in [("ca", &mut ssl.root_cert), ("cert", &mut ssl.cert), ("key", &mut ssl.key)] {
                match o.get(field) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(pem)) => *slot = Some(pem.clone()),
                    Some(other) => return Err(config_error(s.option, &source, other, "PEM text")),
                }
            }
        }
        Some(other) => return Err(config_error(s.option, &source, other, "a boolean, a mode or an object")),
    }
    Ok(())
}

/// Row `s`'s circuit breaker: `{ failureThreshold, cooldownMs }`, or `true` for the defaults.
pub(super) fn breaker(s: &Setting, options: &Map<String, Value>) -> Result<Option<(u32, u64)>, Error> {
    let DefaultValue::Breaker { failure_threshold, cooldown_ms } = s.default else {
        return Err(bad_row(s));
    };
    let source = Source::Option(s.option);
    let o = match options.get(s.option) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => return Ok(None),
        Some(Value::Bool(true)) => return Ok(Some((failure_threshold, cooldown_ms))),
        Some(Value::Object(o)) => o,
        Some(other) => return Err(config_error(s.option, &source, other, "an object")),
    };
    let field = |name: &str, default: f64| -> Result<f64, Error> {
        match o.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f >= 1.0 && f.fract() == 0.0) => {
                Ok(n.as_f64().unwrap_or(default))
            }
            Some(other) => Err(config_error(s.option, &source, other, &format!("{name} as a positive integer"))),
        }
    };
    let threshold = field("failureThreshold", f64::from(failure_threshold))? as u32;
    Ok(Some((threshold, field("cooldownMs", cooldown_ms as f64)? as u64)))
}

#[cfg(test)]
mod host_list_tests {
    use super::pair_ports;

    #[test]
    fn ports_pair_with_hosts_as_libpq_pairs_them() {
        let from = |p: &str| Some((p.to_string(), "URL".to_string()));
        let pairs = |h: &str, p| pair_ports(h, p).map_err(|e| e.message());
        assert_eq!(pairs("a,b", from("6000")).unwrap(), vec![("a".into(), 6000), ("b".into(), 6000)]);
        assert_eq!(pairs("a,b", from("1,")).unwrap(), vec![("a".into(), 1), ("b".into(), 5432)]);
        assert_eq!(pairs("a", None).unwrap(), vec![("a".into(), 5432)]);
        assert!(pairs("a,b,c", from("1,2")).unwrap_err().contains("2 ports for 3 hosts"));
        assert!(pairs("a,,b", None).unwrap_err().contains("an entry is empty"));
        assert!(pairs("a", from("x")).unwrap_err().contains("Invalid port"));
    }
}
