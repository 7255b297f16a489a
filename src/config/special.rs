//! Settings whose reading is special: the connection URL and its parts, TLS, the circuit
//! breaker. Their names, URL keys and defaults still come from the table.

use super::read::{config_error, Inputs, Raw, Source};
use super::table::{DefaultValue, Setting};
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
            None => {
                let vars = s.env.join(" or ");
                return Err(Error::Config(format!("No connection string: pass {{ {} }} or set {vars}", s.option)));
            }
        },
    };
    parse_url(raw, &source.to_string())
}

/// Where to connect and as whom.
pub(super) struct Address {
    /// Host, IP address or socket directory.
    pub(super) host: String,
    /// Port.
    pub(super) port: u16,
    /// Role.
    pub(super) user: String,
    /// Password, if any.
    pub(super) password: Option<Secret>,
    /// Database.
    pub(super) database: String,
}

/// The parts of `url`, each overridden by its URL query parameter (the keys of row `s`, in the
/// order host, port, user, password, dbname), else the row's defaults. For a replica, `base` is
/// the primary: the user, password and database its URL leaves out are the primary's.
pub(super) fn address(
    s: &Setting,
    url: ParsedUrl,
    params: &HashMap<String, String>,
    base: Option<&Settings>,
) -> Result<Address, Error> {
    let (&[host_key, port_key, user_key, password_key, dbname_key], DefaultValue::Address { host, port, user }) =
        (s.url, s.default)
    else {
        return Err(bad_row(s));
    };
    let param = |key: &str| params.get(key).cloned();
    let port = match params.get(port_key) {
        Some(p) => p
            .parse()
            .map_err(|_| config_error(port_key, &Source::Url(port_key), Raw::Text(p.clone()), "a port number"))?,
        None => url.port.unwrap_or(port),
    };
    let url_host = param(host_key).unwrap_or(url.host);
    let user = param(user_key).or(url.user).or_else(|| base.map(|b| b.user.clone())).unwrap_or_else(|| user.into());
    let password = param(password_key).or(url.password).map(Secret);
    let database = param(dbname_key).or(url.database).or_else(|| base.map(|b| b.database.clone()));
    Ok(Address {
        host: if url_host.is_empty() { host.into() } else { url_host },
        port,
        password: password.or_else(|| base.and_then(|b| b.password.clone())),
        database: database.unwrap_or_else(|| user.clone()),
        user,
    })
}

/// The modes the `ssl` option and the sslmode URL parameter accept, for error messages.
const MODES: &str = "disable, prefer, require, verify-ca or verify-full";

/// TLS from row `s`: its URL keys (mode, root certificate, certificate, key, in that order),
/// then the option (a boolean, a mode string, or `{ mode, rejectUnauthorized, ca, cert, key }`).
pub(super) fn ssl(s: &Setting, inputs: &Inputs) -> Result<SslSettings, Error> {
    let (&[mode_key, root_key, cert_key, key_key], DefaultValue::Ssl(default_mode)) = (s.url, s.default) else {
        return Err(bad_row(s));
    };
    let mode = match inputs.url.get(mode_key) {
        None => default_mode,
        Some(m) => SslMode::parse(m)
            .ok_or_else(|| config_error(s.option, &Source::Url(mode_key), Raw::Text(m.clone()), MODES))?,
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
