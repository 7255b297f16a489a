//! Configuration: options, connection URL and environment merged into [`Settings`].
//!
//! Precedence is option > URL query parameter > environment variable > default.
//! Every invalid value is an `ERR_PGWARDEN_CONFIG` error that names where it came from and the
//! bad value. The password is kept in a [`Secret`] and never printed.

use crate::error::Error;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::fmt;

/// Environment variables pgwarden reads; the JS layer passes exactly these.
pub const ENV_NAMES: &[&str] = &[
    "DATABASE_URL",
    "DB_CONNECTION_LIMIT",
    "DATABASE_CONNECTION_LIMIT",
    "DATABASE_POOL_SIZE",
    "DB_POOL_TIMEOUT",
    "DATABASE_POOL_TIMEOUT",
    "DATABASE_CONNECT_TIMEOUT",
    "DB_QUERY_TIMEOUT",
    "DATABASE_QUERY_TIMEOUT",
    "DATABASE_STATEMENT_TIMEOUT",
    "DATABASE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT",
    "DB_STATEMENT_CACHE_SIZE",
    "DB_SLOW_QUERY_THRESHOLD",
    "SLOW_QUERY_THRESHOLD",
    "DATABASE_REPLICA_URL",
];

/// Option names pgwarden understands (others draw one warning).
const OPTION_NAMES: &[&str] = &[
    "connectionString",
    "connectionLimit",
    "minConnections",
    "poolTimeoutMs",
    "connectTimeoutMs",
    "idleTimeoutMs",
    "maxLifetimeMs",
    "queryTimeoutMs",
    "idleInTransactionTimeoutMs",
    "statementCacheSize",
    "pgbouncer",
    "slowQueryThresholdMs",
    "utilizationAlertThreshold",
    "utilizationAlertCooldownMs",
    "replicaUrls",
    "applicationName",
    "schema",
    "ssl",
    "int8",
    "logger",
    "logParams",
    "logLevel",
    "leakDetectionThresholdMs",
    "circuitBreaker",
];

/// URL query parameters pgwarden understands (others draw one warning).
const URL_PARAMS: &[&str] = &[
    "host",
    "port",
    "user",
    "password",
    "dbname",
    "connection_limit",
    "pool_timeout",
    "connect_timeout",
    "idle_timeout",
    "max_lifetime",
    "statement_timeout",
    "idle_in_transaction_session_timeout",
    "statement_cache_size",
    "pgbouncer",
    "application_name",
    "schema",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
];

/// A value that must never be printed (the password).
#[derive(Clone, Default, PartialEq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// libpq's sslmode values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, plain otherwise (libpq's default).
    Prefer,
    /// TLS required, certificate not verified.
    Require,
    /// TLS required, certificate chain verified against the root certificate.
    VerifyCa,
    /// TLS required, chain and host name verified.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// TLS settings: the mode and where certificates come from (PEM text or file path).
#[derive(Debug, Clone, PartialEq)]
pub struct SslSettings {
    /// How strictly TLS is required and verified.
    pub mode: SslMode,
    /// Root certificate(s) that sign the server's certificate.
    pub root_cert: Option<String>,
    /// Client certificate.
    pub cert: Option<String>,
    /// Client key.
    pub key: Option<String>,
}

/// How int8 values reach JavaScript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int8Mode {
    /// A decimal string (lossless; the default, as in `pg`).
    String,
    /// A JavaScript BigInt.
    BigInt,
    /// A JavaScript number (lossy past 2^53).
    Number,
}

/// Everything a pool needs, merged and validated. Times are in milliseconds; 0 means "none".
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Server host name, IP address, or Unix socket directory.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Role to connect as.
    pub user: String,
    /// Password, if any.
    pub password: Option<Secret>,
    /// Database name.
    pub database: String,
    /// Maximum pooled connections.
    pub connection_limit: usize,
    /// Connections kept open even when idle.
    pub min_connections: usize,
    /// Longest wait for a pooled connection (0: wait forever).
    pub pool_timeout_ms: u64,
    /// Longest wait to establish one connection (0: no limit).
    pub connect_timeout_ms: u64,
    /// Idle connections above `min_connections` close after this (0: never).
    pub idle_timeout_ms: u64,
    /// Connections are replaced after this age (0: never).
    pub max_lifetime_ms: u64,
    /// Client-side statement timeout; the statement is cancelled on the server (0: none).
    pub query_timeout_ms: u64,
    /// Server-side idle_in_transaction_session_timeout, if set.
    pub idle_in_transaction_timeout_ms: Option<u64>,
    /// Named statements kept per connection (LRU); 0 uses unnamed statements.
    pub statement_cache_size: usize,
    /// Running behind PgBouncer in transaction mode.
    pub pgbouncer: bool,
    /// Statements slower than this are reported.
    pub slow_query_threshold_ms: u64,
    /// Utilization (0..1) at which highUtilization fires.
    pub utilization_alert_threshold: f64,
    /// Minimum time between two highUtilization alerts (0: every crossing).
    pub utilization_alert_cooldown_ms: u64,
    /// Read replica URLs.
    pub replica_urls: Vec<String>,
    /// application_name reported to the server.
    pub application_name: String,
    /// search_path for every connection.
    pub schema: Option<String>,
    /// TLS settings.
    pub ssl: SslSettings,
    /// How int8 values reach JavaScript.
    pub int8: Int8Mode,
    /// Whether parameters may appear in logs and slow-query events.
    pub log_params: bool,
    /// Warn about clients held longer than this (0: off).
    pub leak_detection_threshold_ms: u64,
    /// Most verbose level forwarded from the native side to `logger`.
    pub log_level: tracing::Level,
    /// Circuit breaker: (consecutive connection failures that open it, cool-down ms); off when `None`.
    pub circuit_breaker: Option<(u32, u64)>,
    /// Warnings to log once (unknown URL parameters or options).
    pub warnings: Vec<String>,
}

impl Settings {
    /// `host:port` (or the socket path), safe to print.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// A summary safe to show in `inspect(pool)`: no password.
    pub fn describe(&self) -> Value {
        json!({
            "host": self.host, "port": self.port, "database": self.database, "user": self.user,
            "connectionLimit": self.connection_limit, "minConnections": self.min_connections,
            "poolTimeoutMs": self.pool_timeout_ms, "connectTimeoutMs": self.connect_timeout_ms,
            "idleTimeoutMs": self.idle_timeout_ms, "maxLifetimeMs": self.max_lifetime_ms,
            "queryTimeoutMs": self.query_timeout_ms, "statementCacheSize": self.statement_cache_size,
            "pgbouncer": self.pgbouncer, "applicationName": self.application_name,
            "slowQueryThresholdMs": self.slow_query_threshold_ms,
            "utilizationAlertThreshold": self.utilization_alert_threshold,
            "int8": match self.int8 { Int8Mode::String => "string", Int8Mode::BigInt => "bigint", Int8Mode::Number => "number" },
            "logParams": self.log_params,
            "leakDetectionThresholdMs": self.leak_detection_threshold_ms,
            "circuitBreaker": self.circuit_breaker.map(|(n, ms)| json!({ "failureThreshold": n, "cooldownMs": ms })),
            "replicas": self.replica_urls.iter().map(|u| redact_url(u)).collect::<Vec<_>>(),
        })
    }
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
enum Source {
    Option(&'static str),
    Url(&'static str),
    Env(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Option(n) => write!(f, "option {n}"),
            Source::Url(n) => write!(f, "URL parameter {n}"),
            Source::Env(n) => write!(f, "environment variable {n}"),
        }
    }
}

/// A raw value before validation.
enum Raw {
    Num(f64),
    Text(String),
    Json(Value),
}

impl fmt::Display for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Raw::Num(n) => write!(f, "{n}"),
            Raw::Text(s) => write!(f, "'{s}'"),
            Raw::Json(v) => write!(f, "{v}"),
        }
    }
}

/// The three places a setting can come from.
struct Inputs<'a> {
    options: &'a Map<String, Value>,
    url: HashMap<String, String>,
    env: &'a HashMap<String, String>,
}

/// A (option, URL parameter, environment names, URL/env unit in ms) row of the table.
struct Row {
    option: &'static str,
    url: Option<&'static str>,
    env: &'static [&'static str],
    /// Milliseconds per unit for URL and env values (1000 for seconds).
    unit_ms: f64,
}

impl Inputs<'_> {
    fn pick(&self, row: &Row) -> Option<(Source, Raw)> {
        if let Some(v) = self.options.get(row.option).filter(|v| !v.is_null()) {
            let raw = match v {
                Value::Number(n) => Raw::Num(n.as_f64().unwrap_or(f64::NAN)),
                Value::String(s) => Raw::Text(s.clone()),
                other => Raw::Json(other.clone()),
            };
            return Some((Source::Option(row.option), raw));
        }
        if let Some(name) = row.url {
            if let Some(v) = self.url.get(name) {
                return Some((Source::Url(name), Raw::Text(v.clone())));
            }
        }
        row.env.iter().find_map(|name| {
            let v = self.env.get(*name)?;
            Some((Source::Env(name), Raw::Text(v.clone())))
        })
    }

    /// A non-negative number, converted to ms for URL/env sources; `integer` demands a whole count.
    fn number(&self, row: Row, integer: bool) -> Result<Option<f64>, Error> {
        let Some((source, raw)) = self.pick(&row) else {
            return Ok(None);
        };
        let n = match &raw {
            Raw::Num(n) => Some(*n),
            Raw::Text(s) => s.trim().parse::<f64>().ok(),
            Raw::Json(_) => None,
        };
        let unit = if matches!(source, Source::Option(_)) { 1.0 } else { row.unit_ms };
        match n {
            Some(n) if n.is_finite() && n >= 0.0 && (!integer || n.fract() == 0.0) => Ok(Some(n * unit)),
            _ => Err(config_error(
                row.option,
                &source,
                &raw,
                if integer { "a non-negative integer" } else { "a non-negative number" },
            )),
        }
    }

    fn flag(&self, row: Row) -> Result<Option<bool>, Error> {
        let Some((source, raw)) = self.pick(&row) else {
            return Ok(None);
        };
        match &raw {
            Raw::Json(Value::Bool(b)) => Ok(Some(*b)),
            Raw::Text(s) if s == "true" || s == "1" => Ok(Some(true)),
            Raw::Text(s) if s == "false" || s == "0" => Ok(Some(false)),
            _ => Err(config_error(row.option, &source, &raw, "true or false")),
        }
    }

    fn text(&self, row: Row) -> Result<Option<String>, Error> {
        let Some((source, raw)) = self.pick(&row) else {
            return Ok(None);
        };
        match raw {
            Raw::Text(s) => Ok(Some(s)),
            other => Err(config_error(row.option, &source, &other, "a string")),
        }
    }
}

fn config_error(option: &str, source: &Source, raw: &Raw, expected: &str) -> Error {
    Error::Config(format!("Invalid {option}: {raw} from {source} (expected {expected})"))
}

fn row(option: &'static str, url: Option<&'static str>, env: &'static [&'static str], unit_ms: f64) -> Row {
    Row { option, url, env, unit_ms }
}

fn ms(v: Option<f64>, default: u64) -> u64 {
    v.map(|n| n.round() as u64).unwrap_or(default)
}

/// Hides the password of a connection string, even one that does not parse: the user-info
/// password (up to the last `@`) and any `password=` query parameter become `***`.
pub fn redact_url(s: &str) -> String {
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

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The parts of a connection URL.
struct ParsedUrl {
    host: String,
    port: u16,
    user: Option<String>,
    password: Option<String>,
    database: Option<String>,
    params: Vec<(String, String)>,
}

fn parse_url(raw: &str, source: &str) -> Result<ParsedUrl, Error> {
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
    Ok(ParsedUrl { host, port: url.port().unwrap_or(5432), user, password, database, params })
}

/// Merges options, URL and environment into validated [`Settings`].
///
/// `options` is the JS options object (non-finite numbers arrive as strings); `env` holds the
/// variables of [`ENV_NAMES`] that are set; `cpus` sizes the default connection limit.
pub fn resolve(options: &Value, env: &HashMap<String, String>, cpus: usize) -> Result<Settings, Error> {
    let empty = Map::new();
    let options = match options {
        Value::Object(m) => m,
        Value::Null => &empty,
        _ => return Err(Error::Config("Invalid options: expected an object".into())),
    };
    let mut warnings = Vec::new();
    for k in options.keys().filter(|k| !OPTION_NAMES.contains(&k.as_str())) {
        warnings.push(format!("Unknown option '{k}' ignored"));
    }

    let (conn_str, conn_src) = match options.get("connectionString").filter(|v| !v.is_null()) {
        Some(Value::String(s)) => (s.clone(), "option connectionString"),
        Some(other) => {
            return Err(Error::Config(format!(
                "Invalid connectionString: {other} from option connectionString (expected a string)"
            )))
        }
        None => match env.get("DATABASE_URL") {
            Some(s) => (s.clone(), "environment variable DATABASE_URL"),
            None => {
                return Err(Error::Config("No connection string: pass { connectionString } or set DATABASE_URL".into()))
            }
        },
    };
    let url = parse_url(&conn_str, conn_src)?;
    let mut url_params = HashMap::new();
    let mut unknown = Vec::new();
    for (k, v) in &url.params {
        if URL_PARAMS.contains(&k.as_str()) {
            url_params.insert(k.clone(), v.clone());
        } else {
            unknown.push(format!("'{k}'"));
        }
    }
    match unknown.len() {
        0 => {}
        1 => warnings.push(format!("Unknown URL parameter {} ignored", unknown[0])),
        _ => warnings.push(format!("Unknown URL parameters {} ignored", unknown.join(", "))),
    }
    let inputs = Inputs { options, url: url_params, env };

    let limit_env: &[&str] = &["DB_CONNECTION_LIMIT", "DATABASE_CONNECTION_LIMIT", "DATABASE_POOL_SIZE"];
    let connection_limit = ms(
        inputs.number(row("connectionLimit", Some("connection_limit"), limit_env, 1.0), true)?,
        (cpus * 2 + 1) as u64,
    ) as usize;
    if connection_limit == 0 {
        // Only an explicit 0 gets here (the default is at least 1), so a source exists.
        let picked = inputs.pick(&row("connectionLimit", Some("connection_limit"), limit_env, 1.0));
        let (source, raw) = picked.unwrap_or((Source::Option("connectionLimit"), Raw::Num(0.0)));
        return Err(config_error("connectionLimit", &source, &raw, "at least 1"));
    }
    let min_connections = ms(inputs.number(row("minConnections", None, &[], 1.0), true)?, 0) as usize;
    if min_connections > connection_limit {
        return Err(Error::Config(format!(
            "Invalid minConnections: {min_connections} from option minConnections (expected at most connectionLimit, {connection_limit})"
        )));
    }
    let pool_timeout_ms = ms(
        inputs.number(
            row("poolTimeoutMs", Some("pool_timeout"), &["DB_POOL_TIMEOUT", "DATABASE_POOL_TIMEOUT"], 1000.0),
            false,
        )?,
        10_000,
    );
    let connect_timeout_ms = ms(
        inputs
            .number(row("connectTimeoutMs", Some("connect_timeout"), &["DATABASE_CONNECT_TIMEOUT"], 1000.0), false)?,
        5_000,
    );
    let idle_timeout_ms = ms(inputs.number(row("idleTimeoutMs", Some("idle_timeout"), &[], 1000.0), false)?, 60_000);
    let max_lifetime_ms = ms(inputs.number(row("maxLifetimeMs", Some("max_lifetime"), &[], 1000.0), false)?, 1_800_000);
    let query_env: &[&str] = &["DB_QUERY_TIMEOUT", "DATABASE_QUERY_TIMEOUT", "DATABASE_STATEMENT_TIMEOUT"];
    let query_timeout_ms =
        ms(inputs.number(row("queryTimeoutMs", Some("statement_timeout"), query_env, 1.0), false)?, 30_000);
    let idle_in_transaction_timeout_ms = inputs
        .number(
            row(
                "idleInTransactionTimeoutMs",
                Some("idle_in_transaction_session_timeout"),
                &["DATABASE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT"],
                1.0,
            ),
            false,
        )?
        .map(|n| n.round() as u64);
    let pgbouncer = inputs.flag(row("pgbouncer", Some("pgbouncer"), &[], 1.0))?.unwrap_or(false);
    let cache = ms(
        inputs
            .number(row("statementCacheSize", Some("statement_cache_size"), &["DB_STATEMENT_CACHE_SIZE"], 1.0), true)?,
        100,
    ) as usize;
    let statement_cache_size = if pgbouncer { 0 } else { cache };
    let slow_query_threshold_ms = ms(
        inputs.number(
            row("slowQueryThresholdMs", None, &["DB_SLOW_QUERY_THRESHOLD", "SLOW_QUERY_THRESHOLD"], 1.0),
            false,
        )?,
        1000,
    );
    let utilization_alert_threshold =
        inputs.number(row("utilizationAlertThreshold", None, &[], 1.0), false)?.unwrap_or(0.8);
    if utilization_alert_threshold == 0.0 || utilization_alert_threshold > 1.0 {
        return Err(Error::Config(format!(
            "Invalid utilizationAlertThreshold: {utilization_alert_threshold} from option utilizationAlertThreshold (expected a fraction above 0 and at most 1, e.g. 0.8)"
        )));
    }
    let utilization_alert_cooldown_ms =
        ms(inputs.number(row("utilizationAlertCooldownMs", None, &[], 1.0), false)?, 10_000);
    let replica_urls = match inputs.pick(&row("replicaUrls", None, &["DATABASE_REPLICA_URL"], 1.0)) {
        None => Vec::new(),
        Some((_, Raw::Json(Value::Array(items)))) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        }
        Some((Source::Env(_), Raw::Text(s))) => {
            s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
        }
        Some((source, raw)) => return Err(config_error("replicaUrls", &source, &raw, "an array of URLs")),
    };
    for u in &replica_urls {
        parse_url(u, "replicaUrls")?;
    }
    let application_name =
        inputs.text(row("applicationName", Some("application_name"), &[], 1.0))?.unwrap_or_else(|| "pgwarden".into());
    let schema = inputs.text(row("schema", Some("schema"), &[], 1.0))?;
    let int8 = match inputs.text(row("int8", None, &[], 1.0))?.as_deref() {
        None | Some("string") => Int8Mode::String,
        Some("bigint") => Int8Mode::BigInt,
        Some("number") => Int8Mode::Number,
        Some(other) => {
            return Err(config_error(
                "int8",
                &Source::Option("int8"),
                &Raw::Text(other.into()),
                "'string', 'bigint' or 'number'",
            ))
        }
    };
    let log_params = inputs.flag(row("logParams", None, &[], 1.0))?.unwrap_or(false);
    let leak_detection_threshold_ms = ms(inputs.number(row("leakDetectionThresholdMs", None, &[], 1.0), false)?, 0);
    let ssl = resolve_ssl(&inputs)?;
    // PgBouncer rejects startup options, so these session settings cannot be sent: say so.
    if pgbouncer && (schema.is_some() || idle_in_transaction_timeout_ms.is_some()) {
        warnings.push(
            "schema and idleInTransactionTimeoutMs are not applied with pgbouncer=true (set them on the database or role instead)"
                .into(),
        );
    }
    let circuit_breaker = resolve_breaker(options)?;
    let log_level = match inputs.text(row("logLevel", None, &[], 1.0))? {
        None => tracing::Level::INFO,
        Some(l) => crate::logging::parse_level(&l).ok_or_else(|| {
            config_error(
                "logLevel",
                &Source::Option("logLevel"),
                &Raw::Text(l.clone()),
                "'debug', 'info', 'warn' or 'error'",
            )
        })?,
    };

    let host = inputs.url.get("host").cloned().unwrap_or(url.host);
    let port = match inputs.url.get("port") {
        Some(p) => {
            p.parse().map_err(|_| config_error("port", &Source::Url("port"), &Raw::Text(p.clone()), "a port number"))?
        }
        None => url.port,
    };
    let user = inputs.url.get("user").cloned().or(url.user).unwrap_or_else(|| "postgres".into());
    let password = inputs.url.get("password").cloned().or(url.password).map(Secret);
    let database = inputs.url.get("dbname").cloned().or(url.database).unwrap_or_else(|| user.clone());
    Ok(Settings {
        host: if host.is_empty() { "localhost".into() } else { host },
        port,
        user,
        password,
        database,
        connection_limit,
        min_connections,
        pool_timeout_ms,
        connect_timeout_ms,
        idle_timeout_ms,
        max_lifetime_ms,
        query_timeout_ms,
        idle_in_transaction_timeout_ms,
        statement_cache_size,
        pgbouncer,
        slow_query_threshold_ms,
        utilization_alert_threshold,
        utilization_alert_cooldown_ms,
        replica_urls,
        application_name,
        schema,
        ssl,
        int8,
        log_params,
        leak_detection_threshold_ms,
        circuit_breaker,
        log_level,
        warnings,
    })
}

/// `circuitBreaker: { failureThreshold = 5, cooldownMs = 5000 }`, or `true` for those defaults.
fn resolve_breaker(options: &Map<String, Value>) -> Result<Option<(u32, u64)>, Error> {
    let source = Source::Option("circuitBreaker");
    let o = match options.get("circuitBreaker") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => return Ok(None),
        Some(Value::Bool(true)) => return Ok(Some((5, 5000))),
        Some(Value::Object(o)) => o,
        Some(other) => return Err(config_error("circuitBreaker", &source, &Raw::Json(other.clone()), "an object")),
    };
    let field = |name: &str, default: f64| -> Result<f64, Error> {
        match o.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f >= 1.0 && f.fract() == 0.0) => {
                Ok(n.as_f64().unwrap_or(default))
            }
            Some(other) => Err(config_error(
                "circuitBreaker",
                &source,
                &Raw::Json(other.clone()),
                &format!("{name} as a positive integer"),
            )),
        }
    };
    Ok(Some((field("failureThreshold", 5.0)? as u32, field("cooldownMs", 5000.0)? as u64)))
}

/// `ssl` option (boolean, mode string, or `{ mode, rejectUnauthorized, ca, cert, key }`) or URL sslmode.
fn resolve_ssl(inputs: &Inputs) -> Result<SslSettings, Error> {
    let url_mode = |inputs: &Inputs| -> Result<SslMode, Error> {
        match inputs.url.get("sslmode") {
            None => Ok(SslMode::Prefer),
            Some(m) => SslMode::parse(m).ok_or_else(|| {
                config_error(
                    "ssl",
                    &Source::Url("sslmode"),
                    &Raw::Text(m.clone()),
                    "disable, prefer, require, verify-ca or verify-full",
                )
            }),
        }
    };
    let mut ssl = SslSettings {
        mode: url_mode(inputs)?,
        root_cert: inputs.url.get("sslrootcert").cloned(),
        cert: inputs.url.get("sslcert").cloned(),
        key: inputs.url.get("sslkey").cloned(),
    };
    let source = Source::Option("ssl");
    match inputs.options.get("ssl") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(false)) => ssl.mode = SslMode::Disable,
        // As in `pg`: `ssl: true` verifies the certificate.
        Some(Value::Bool(true)) => ssl.mode = SslMode::VerifyFull,
        Some(Value::String(m)) => {
            ssl.mode = SslMode::parse(m).ok_or_else(|| {
                config_error(
                    "ssl",
                    &source,
                    &Raw::Text(m.clone()),
                    "disable, prefer, require, verify-ca or verify-full",
                )
            })?
        }
        Some(Value::Object(o)) => {
            ssl.mode = match (o.get("mode"), o.get("rejectUnauthorized")) {
                (Some(Value::String(m)), _) => SslMode::parse(m).ok_or_else(|| {
                    config_error(
                        "ssl",
                        &source,
                        &Raw::Text(m.clone()),
                        "disable, prefer, require, verify-ca or verify-full",
                    )
                })?,
                (Some(other), _) => {
                    return Err(config_error("ssl", &source, &Raw::Json(other.clone()), "a mode string"))
                }
                (None, Some(Value::Bool(false))) => SslMode::Require,
                _ => SslMode::VerifyFull,
            };
            for (field, slot) in [("ca", &mut ssl.root_cert), ("cert", &mut ssl.cert), ("key", &mut ssl.key)] {
                match o.get(field) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => *slot = Some(s.clone()),
                    Some(other) => return Err(config_error("ssl", &source, &Raw::Json(other.clone()), "PEM text")),
                }
            }
        }
        Some(other) => {
            return Err(config_error("ssl", &source, &Raw::Json(other.clone()), "a boolean, a mode or an object"))
        }
    }
    Ok(ssl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn opts(v: Value) -> Value {
        v
    }

    const URL: &str = "postgres://alice:s3cr%40t@db.example:6543/shop";

    #[test]
    fn defaults() {
        let s = resolve(&json!({ "connectionString": URL }), &env(&[]), 2).unwrap();
        assert_eq!(s.host, "db.example");
        assert_eq!(s.port, 6543);
        assert_eq!(s.user, "alice");
        assert_eq!(s.password, Some(Secret("s3cr@t".into())));
        assert_eq!(s.database, "shop");
        assert_eq!(s.connection_limit, 5);
        assert_eq!(s.pool_timeout_ms, 10_000);
        assert_eq!(s.connect_timeout_ms, 5_000);
        assert_eq!(s.idle_timeout_ms, 60_000);
        assert_eq!(s.max_lifetime_ms, 1_800_000);
        assert_eq!(s.query_timeout_ms, 30_000);
        assert_eq!(s.idle_in_transaction_timeout_ms, None);
        assert_eq!(s.statement_cache_size, 100);
        assert_eq!(s.slow_query_threshold_ms, 1000);
        assert_eq!(s.utilization_alert_threshold, 0.8);
        assert_eq!(s.application_name, "pgwarden");
        assert_eq!(s.ssl.mode, SslMode::Prefer);
        assert_eq!(s.int8, Int8Mode::String);
        assert!(!s.log_params);
    }

    #[test]
    fn precedence_option_url_env_default() {
        let url = format!("{URL}?connection_limit=7&pool_timeout=3");
        let e = env(&[
            ("DB_CONNECTION_LIMIT", "9"),
            ("DATABASE_CONNECTION_LIMIT", "11"),
            ("DB_POOL_TIMEOUT", "4"),
            ("DATABASE_CONNECT_TIMEOUT", "2"),
        ]);
        let s = resolve(&json!({ "connectionString": url, "connectionLimit": 3 }), &e, 2).unwrap();
        assert_eq!(s.connection_limit, 3, "option wins");
        assert_eq!(s.pool_timeout_ms, 3000, "URL beats env, seconds to ms");
        assert_eq!(s.connect_timeout_ms, 2000, "env beats default");
        let s = resolve(&json!({ "connectionString": URL }), &e, 2).unwrap();
        assert_eq!(s.connection_limit, 9, "first env name wins");
    }

    #[test]
    fn database_url_from_env() {
        let s = resolve(&json!({}), &env(&[("DATABASE_URL", URL)]), 2).unwrap();
        assert_eq!(s.database, "shop");
        let err = resolve(&json!({}), &env(&[]), 2).unwrap_err();
        assert_eq!(err.code(), "ERR_PGWARDEN_CONFIG");
    }

    #[test]
    fn errors_name_source_and_value() {
        let e = |o: Value, en: &[(&str, &str)]| resolve(&o, &env(en), 2).unwrap_err().message();
        let m = e(json!({ "connectionString": URL, "connectionLimit": -1 }), &[]);
        assert!(m.contains("option connectionLimit") && m.contains("-1"), "{m}");
        let m = e(json!({ "connectionString": URL, "poolTimeoutMs": "NaN" }), &[]);
        assert!(m.contains("option poolTimeoutMs") && m.contains("NaN"), "{m}");
        let m = e(json!({ "connectionString": format!("{URL}?connection_limit=abc") }), &[]);
        assert!(m.contains("URL parameter connection_limit") && m.contains("abc"), "{m}");
        let m = e(json!({ "connectionString": URL }), &[("DB_QUERY_TIMEOUT", "soon")]);
        assert!(m.contains("environment variable DB_QUERY_TIMEOUT") && m.contains("soon"), "{m}");
        let m = e(json!({ "connectionString": format!("{URL}?sslmode=bogus") }), &[]);
        assert!(m.contains("URL parameter sslmode") && m.contains("bogus"), "{m}");
        let m = e(json!({ "connectionString": "postgres://alice:hunter2@[bad" }), &[]);
        assert!(!m.contains("hunter2") && m.contains("unparsable"), "{m}");
    }

    #[test]
    fn pgbouncer_forces_unnamed_statements() {
        let s = resolve(
            &opts(json!({ "connectionString": format!("{URL}?pgbouncer=true&statement_cache_size=50") })),
            &env(&[]),
            2,
        )
        .unwrap();
        assert!(s.pgbouncer);
        assert_eq!(s.statement_cache_size, 0);
    }

    #[test]
    fn pgbouncer_warns_about_session_settings() {
        let s =
            resolve(&json!({ "connectionString": format!("{URL}?pgbouncer=true&schema=app") }), &env(&[]), 2).unwrap();
        assert_eq!(s.warnings.len(), 1);
        assert!(s.warnings[0].contains("not applied with pgbouncer=true"));
    }

    #[test]
    fn unknown_url_parameter_warns() {
        let s = resolve(&json!({ "connectionString": format!("{URL}?foo=1&schema=app") }), &env(&[]), 2).unwrap();
        assert_eq!(s.warnings, vec!["Unknown URL parameter 'foo' ignored".to_string()]);
        assert_eq!(s.schema.as_deref(), Some("app"));
    }

    #[test]
    fn replicas_from_env_comma_separated() {
        let s = resolve(
            &json!({ "connectionString": URL }),
            &env(&[("DATABASE_REPLICA_URL", "postgres://r1/db, postgres://r2/db")]),
            2,
        )
        .unwrap();
        assert_eq!(s.replica_urls, vec!["postgres://r1/db", "postgres://r2/db"]);
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("postgres://u:pw@h:5/d?x=1"), "postgres://u:***@h:5/d?x=1");
        assert_eq!(redact_url("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact_url("postgres://u:p@ss@h/d"), "postgres://u:***@h/d");
        assert_eq!(redact_url("u:pw/x@h/d"), "u:***@h/d");
        assert_eq!(redact_url("postgres://u:pw/x@h/d"), "postgres://u:***@h/d");
        assert_eq!(redact_url("postgres://u@[bad/db?password=pw&a=1"), "postgres://u@[bad/db?password=***&a=1");
        let s = resolve(&json!({ "connectionString": URL }), &env(&[]), 2).unwrap();
        assert!(!format!("{s:?}").contains("s3cr"));
        assert!(!s.describe().to_string().contains("s3cr"));
    }

    #[test]
    fn circuit_breaker() {
        let cb = |o: Value| resolve(&o, &env(&[]), 2).map(|s| s.circuit_breaker);
        assert_eq!(cb(json!({ "connectionString": URL })).unwrap(), None);
        assert_eq!(
            cb(json!({ "connectionString": URL, "circuitBreaker": { "failureThreshold": 3 } })).unwrap(),
            Some((3, 5000))
        );
        assert!(cb(json!({ "connectionString": URL, "circuitBreaker": { "cooldownMs": -1 } })).is_err());
    }

    #[test]
    fn ssl_forms() {
        let mode = |o: Value| resolve(&o, &env(&[]), 2).unwrap().ssl.mode;
        assert_eq!(mode(json!({ "connectionString": URL, "ssl": false })), SslMode::Disable);
        assert_eq!(mode(json!({ "connectionString": URL, "ssl": true })), SslMode::VerifyFull);
        assert_eq!(mode(json!({ "connectionString": URL, "ssl": { "rejectUnauthorized": false } })), SslMode::Require);
        assert_eq!(mode(json!({ "connectionString": format!("{URL}?sslmode=verify-ca") })), SslMode::VerifyCa);
        assert_eq!(
            mode(json!({ "connectionString": format!("{URL}?sslmode=disable"), "ssl": "require" })),
            SslMode::Require
        );
    }
}
