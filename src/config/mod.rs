//! Configuration: options, connection URL and environment merged into [`Settings`].
//!
//! Every setting is one row of the table in [`table`]: its option name, URL query keys,
//! environment variables, kind (which fixes its unit), default and range. [`resolve`] walks the
//! table with one reduce: option > URL query parameter > environment variable > default.
//! Every invalid value is an `ERR_PGWARDEN_CONFIG` error that names where it came from and the
//! bad value. The password is kept in a [`Secret`] and never printed.

#![warn(unreachable_pub, missing_docs)]

mod pgpass;
mod read;
mod special;
mod table;
#[cfg(test)]
mod tests;
mod url;

pub(crate) use table::{option_names, ENV_NAMES};
pub(crate) use url::redact_url;

use crate::error::Error;
use read::{Inputs, Values};
use serde_json::{json, Map, Value};
use special::Address;
use std::collections::HashMap;
use std::fmt;

/// A value that must never be printed (the password).
#[derive(Clone, Default, PartialEq)]
pub(crate) struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// libpq's sslmode values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
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
    /// libpq's name of the mode.
    fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// The mode a libpq sslmode value names (`allow` is taken as `prefer`).
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
pub(crate) struct SslSettings {
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
pub(crate) enum Int8Mode {
    /// A decimal string (lossless; the default, as in `pg`).
    String,
    /// A JavaScript BigInt.
    BigInt,
    /// A JavaScript number (lossy past 2^53).
    Number,
}

impl Int8Mode {
    /// The mode the `int8` option names.
    fn from_name(name: &str) -> Option<Int8Mode> {
        Some(match name {
            "string" => Int8Mode::String,
            "bigint" => Int8Mode::BigInt,
            "number" => Int8Mode::Number,
            _ => return None,
        })
    }

    /// The `int8` option value that names this mode.
    fn name(self) -> &'static str {
        match self {
            Int8Mode::String => "string",
            Int8Mode::BigInt => "bigint",
            Int8Mode::Number => "number",
        }
    }
}

/// Which server a new connection accepts, as libpq's `target_session_attrs` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetSessionAttrs {
    /// Any server that accepts the connection.
    Any,
    /// One that accepts writes (`transaction_read_only` off).
    ReadWrite,
    /// One that refuses writes (`transaction_read_only` on).
    ReadOnly,
    /// One that is not in recovery.
    Primary,
    /// One that is in recovery (a standby).
    Standby,
    /// A standby when one answers, else any server.
    PreferStandby,
}

impl TargetSessionAttrs {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "any" => Self::Any,
            "read-write" => Self::ReadWrite,
            "read-only" => Self::ReadOnly,
            "primary" => Self::Primary,
            "standby" => Self::Standby,
            "prefer-standby" => Self::PreferStandby,
            _ => return None,
        })
    }

    /// The name libpq gives it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::ReadWrite => "read-write",
            Self::ReadOnly => "read-only",
            Self::Primary => "primary",
            Self::Standby => "standby",
            Self::PreferStandby => "prefer-standby",
        }
    }

    /// Whether a server in recovery (`in_recovery`) or refusing writes (`read_only`) is
    /// acceptable; `strict` is false on prefer-standby's second pass, where any server is.
    pub(crate) fn accepts(self, in_recovery: bool, read_only: bool, strict: bool) -> bool {
        match self {
            Self::Any => true,
            Self::ReadWrite => !read_only,
            Self::ReadOnly => read_only,
            Self::Primary => !in_recovery,
            Self::Standby => in_recovery,
            Self::PreferStandby => in_recovery || !strict,
        }
    }

    /// Whether a pool with this target is meant for writes: its connections move to the new
    /// primary after a failover.
    pub(crate) fn wants_primary(self) -> bool {
        matches!(self, Self::ReadWrite | Self::Primary)
    }
}

/// Everything a pool needs, merged and validated. Times are in milliseconds; 0 means "none".
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    /// Server host name, IP address, or Unix socket directory.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Every host with its port, in the order given (`host`/`port` are the first); a new
    /// connection tries them in order (or shuffled with `load_balance_random`).
    pub hosts: Vec<(String, u16)>,
    /// Each host's password from the password file, for several hosts (empty otherwise: then
    /// `password` is every host's).
    pub host_passwords: Vec<Option<Secret>>,
    /// Which server a new connection accepts (libpq's target_session_attrs).
    pub target_session_attrs: TargetSessionAttrs,
    /// Try the hosts in a random order (libpq's load_balance_hosts=random).
    pub load_balance_random: bool,
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
    /// Callers that may wait for a connection at once; one more is refused at once (0: no cap).
    pub max_waiting: usize,
    /// A refused connection attempt is retried with backoff while poolTimeoutMs allows (false:
    /// its error rejects the caller at once, as pg's does).
    pub retry_connect: bool,
    /// Longest wait to establish one connection (0: no limit).
    pub connect_timeout_ms: u64,
    /// TCP keepalive on each connection's socket (libpq's keepalives).
    pub keepalives: bool,
    /// Idle time before the first keepalive probe, whole seconds in ms (0: the system's).
    pub keepalives_idle_ms: u64,
    /// Time between unanswered keepalive probes, whole seconds in ms (0: the system's).
    pub keepalives_interval_ms: u64,
    /// Unanswered probes before the connection is dropped (0: the system's).
    pub keepalives_count: u32,
    /// TCP_USER_TIMEOUT: how long sent data may stay unacknowledged before the connection is
    /// dropped (0: the system's; Linux only).
    pub tcp_user_timeout_ms: u64,
    /// Idle connections above `min_connections` close after this (0: never).
    pub idle_timeout_ms: u64,
    /// Connections are replaced after this age (0: never).
    pub max_lifetime_ms: u64,
    /// Connections are closed once they served this many checkouts (0: never), as pg-pool's
    /// `maxUses`.
    pub max_uses: u64,
    /// A connection idle at least this long is checked with one round trip before it is
    /// handed out (0: never).
    pub idle_check_ms: u64,
    /// Client-side statement timeout; the statement is cancelled on the server (0: none).
    pub query_timeout_ms: u64,
    /// Server-side idle_in_transaction_session_timeout, if set.
    pub idle_in_transaction_timeout_ms: Option<u64>,
    /// Named statements kept per connection (LRU); 0 uses unnamed statements.
    pub statement_cache_size: usize,
    /// The most `pool.query` statements one connection carries at once when every connection
    /// is busy (see `src/pool/convoy.rs`); 1: one at a time. Always 1 with PgBouncer or without
    /// a statement cache.
    pub pipeline_depth: usize,
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
    /// The settings of each replica's pool, in `replica_urls` order (empty in a replica's own).
    pub replicas: Vec<Settings>,
    /// A replica further behind than this is skipped until it catches up (`None`: lag ignored).
    pub max_replica_lag_ms: Option<u64>,
    /// These are a read replica's pool's settings: its outages are announced by the primary's
    /// probe (one warning when it leaves the rotation), not by its own pool.
    pub is_replica: bool,
    /// application_name reported to the server.
    pub application_name: String,
    /// search_path for every connection.
    pub schema: Option<String>,
    /// The sessions' TimeZone (`-c TimeZone=…` at startup), when not the server's default.
    pub time_zone: Option<String>,
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
    /// Startup options (`-c name=value …`, libpq's `options` / PGOPTIONS), if any.
    pub options: Option<String>,
    /// Warnings to log once (unknown URL parameters or options).
    pub warnings: Vec<String>,
    /// Where each setting of the table came from ("option x", "URL parameter y",
    /// "environment variable Z" or "default"), in table order.
    pub sources: Vec<(&'static str, String)>,
}

impl Settings {
    /// `getPoolStats().config`: the settings that bound the pool (poolTimeout in seconds, as
    /// Prisma's connection-string parameter).
    pub(crate) fn stats_view(&self) -> Value {
        json!({
            "connectionLimit": self.connection_limit,
            "minConnections": self.min_connections,
            "poolTimeout": self.pool_timeout_ms as f64 / 1000.0,
            "queryTimeout": self.query_timeout_ms,
            "slowQueryThreshold": self.slow_query_threshold_ms,
        })
    }

    /// `host:port` (or the socket path), safe to print; every host for a list.
    pub(crate) fn address(&self) -> String {
        self.hosts.iter().map(|(h, p)| format!("{h}:{p}")).collect::<Vec<_>>().join(",")
    }

    /// A summary safe to show in `inspect(pool)`: no password.
    pub(crate) fn describe(&self) -> Value {
        json!({
            "host": self.host, "port": self.port, "database": self.database, "user": self.user,
            "connectionLimit": self.connection_limit, "minConnections": self.min_connections,
            "poolTimeoutMs": self.pool_timeout_ms, "maxWaiting": self.max_waiting, "retryConnect": self.retry_connect,
            "connectTimeoutMs": self.connect_timeout_ms,
            "keepalives": self.keepalives, "keepalivesIdleMs": self.keepalives_idle_ms,
            "keepalivesIntervalMs": self.keepalives_interval_ms, "keepalivesCount": self.keepalives_count,
            "tcpUserTimeoutMs": self.tcp_user_timeout_ms,
            "idleTimeoutMs": self.idle_timeout_ms, "maxLifetimeMs": self.max_lifetime_ms,
            "maxUses": self.max_uses, "idleCheckMs": self.idle_check_ms,
            "queryTimeoutMs": self.query_timeout_ms, "statementCacheSize": self.statement_cache_size,
            "pipelineDepth": self.pipeline_depth,
            "pgbouncer": self.pgbouncer, "applicationName": self.application_name,
            "slowQueryThresholdMs": self.slow_query_threshold_ms,
            "logLevel": self.log_level.as_str().to_ascii_lowercase(),
            "utilizationAlertThreshold": self.utilization_alert_threshold,
            "int8": self.int8.name(),
            "logParams": self.log_params,
            "leakDetectionThresholdMs": self.leak_detection_threshold_ms,
            "circuitBreaker": self.circuit_breaker.map(|(n, ms)| json!({ "failureThreshold": n, "cooldownMs": ms })),
            "replicas": self.replica_urls.iter().map(|u| redact_url(u)).collect::<Vec<_>>(),
            "maxReplicaLagMs": self.max_replica_lag_ms,
            "hosts": self.hosts.iter().map(|(h, p)| json!({ "host": h, "port": p })).collect::<Vec<_>>(),
            "targetSessionAttrs": self.target_session_attrs.name(),
            "loadBalanceHosts": if self.load_balance_random { "random" } else { "disable" },
        })
    }
}

impl Settings {
    /// Every setting with its value (no password) and where it came from, for `pgwarden doctor`.
    pub(crate) fn sources_json(&self) -> Value {
        let described = self.describe();
        let value = |name: &str| -> Value {
            match name {
                "connectionString" => json!(redact_url(&format!(
                    "postgres://{}@{}:{}/{}",
                    self.user, self.host, self.port, self.database
                ))),
                "ssl" => json!(self.ssl.mode.name()),
                "schema" => json!(self.schema),
                "timeZone" => json!(self.time_zone),
                "idleInTransactionTimeoutMs" => json!(self.idle_in_transaction_timeout_ms),
                "utilizationAlertCooldownMs" => json!(self.utilization_alert_cooldown_ms),
                "replicaUrls" => described["replicas"].clone(),
                "password" => json!(self.password.as_ref().map(|_| "(set)")),
                "options" => json!(self.options),
                other => described.get(other).cloned().unwrap_or(Value::Null),
            }
        };
        let rows =
            self.sources.iter().map(|(name, source)| json!({ "name": name, "value": value(name), "source": source }));
        Value::Array(rows.collect())
    }
}

/// Where each setting of the table came from, by the same precedence the reduce follows.
fn sources_of(
    inputs: &Inputs,
    options: &Map<String, Value>,
    env: &HashMap<String, String>,
) -> Vec<(&'static str, String)> {
    let source = |s: &table::Setting| -> String {
        if s.kind == table::Kind::ConnectionUrl {
            return if options.get(s.option).is_some_and(|v| !v.is_null()) {
                format!("option {}", s.option)
            } else if let Some(name) = s.env.iter().find(|n| env.contains_key(**n)) {
                format!("environment variable {name}")
            } else {
                "default".into()
            };
        }
        inputs.pick(s).map(|(from, _)| from.to_string()).unwrap_or_else(|| "default".into())
    };
    let skipped = |s: &&table::Setting| {
        matches!(
            s.kind,
            table::Kind::JsObject | table::Kind::JsFunction | table::Kind::JsSwitch | table::Kind::AddressPart
        )
    };
    table::SETTINGS.iter().filter(|s| !skipped(s)).map(|s| (s.option, source(s))).collect()
}

/// Merges options, URL and environment into validated [`Settings`].
///
/// `options` is the JS options object (non-finite numbers arrive as strings); `env` holds the
/// variables of [`ENV_NAMES`] that are set; `cpus` sizes the default connection limit.
pub(crate) fn resolve(options: &Value, env: &HashMap<String, String>, cpus: usize) -> Result<Settings, Error> {
    let empty = Map::new();
    let options = match options {
        Value::Object(m) => m,
        Value::Null => &empty,
        _ => return Err(Error::Config("Invalid options: expected an object".into())),
    };
    let mut warnings: Vec<String> =
        options.keys().filter(|k| !table::is_option(k)).map(|k| table::unknown_option_warning(k)).collect();
    let connection = table::setting("connectionString")?;
    let mut url = special::connection_url(connection, options, env)?;
    let known = known_params(&mut url, "", &mut warnings);
    let inputs = Inputs { options, url: known, env };
    let values = read::reduce(&inputs, cpus)?;
    let mut sources = sources_of(&inputs, options, env);
    let passfile = values.peek_text("passfile");
    let address = special::address(url, Some(&inputs), &inputs.url, None, passfile.as_deref(), &mut warnings)?;
    // The address parts' sources go right after the connection string's, in table order.
    sources.splice(1..1, address.sources.iter().cloned());
    let mut primary = settings(values, address, Vec::new(), sources)?;
    let mut replicas = Vec::with_capacity(primary.replica_urls.len());
    for raw in &primary.replica_urls {
        replicas.push(replica(raw, &inputs, cpus, &primary, &mut warnings)?);
    }
    primary.replicas = replicas;
    primary.warnings.splice(0..0, warnings);
    Ok(primary)
}

/// Takes the query parameters out of `url`: the known ones are returned, the others draw one
/// warning (`context` names the URL they came from, when it is not the connection string).
fn known_params(url: &mut url::ParsedUrl, context: &str, warnings: &mut Vec<String>) -> HashMap<String, String> {
    let (known, unknown): (Vec<_>, Vec<_>) = url.params.drain(..).partition(|(k, _)| table::is_url_param(k));
    let unknown: Vec<String> = unknown.iter().map(|(k, _)| format!("'{k}'")).collect();
    match unknown.len() {
        0 => {}
        1 => warnings.push(format!("Unknown URL parameter {} ignored{context}", unknown[0])),
        _ => warnings.push(format!("Unknown URL parameters {} ignored{context}", unknown.join(", "))),
    }
    known.into_iter().collect()
}

/// The settings of the replica at `raw`: the primary's (its options, its URL parameters, the
/// environment), except what the replica URL sets, which wins over all of them. Its user,
/// password and database default to the primary's. Errors and warnings name the replica by
/// its URL without the password.
fn replica(
    raw: &str,
    primary: &Inputs,
    cpus: usize,
    base: &Settings,
    warnings: &mut Vec<String>,
) -> Result<Settings, Error> {
    let shown = redact_url(raw);
    let in_replica = |e: Error| match e {
        Error::Config(m) => Error::Config(format!("{m} in replica URL {shown}")),
        other => other,
    };
    let connection = table::setting("connectionString")?;
    let list = table::setting("replicaUrls")?;
    let mut url = url::parse_url(raw, &format!("option {}", list.option))?;
    let own = known_params(&mut url, &format!(" in replica URL {shown}"), warnings);
    // The primary's URL parameters, less its address, under the replica's own.
    let mut params: HashMap<String, String> =
        primary.url.iter().filter(|(k, _)| !table::is_address_key(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    params.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    // An option whose URL parameter the replica URL sets gives way to it.
    let overridden = |name: &str| table::setting(name).is_ok_and(|s| s.url.iter().any(|k| own.contains_key(*k)));
    let options: Map<String, Value> = primary
        .options
        .iter()
        .filter(|(k, _)| *k != connection.option && *k != list.option && !overridden(k))
        .filter(|(k, _)| table::setting(k).is_ok() && !table::is_address_option(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Nor the environment's choice among hosts (PGTARGETSESSIONATTRS=read-write would refuse
    // every standby).
    let env: HashMap<String, String> =
        primary.env.iter().filter(|(k, _)| !table::is_address_env(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let inputs = Inputs { options: &options, url: params, env: &env };
    let values = read::reduce(&inputs, cpus).map_err(in_replica)?;
    let passfile = values.peek_text("passfile");
    let address = special::address(url, None, &own, Some(base), passfile.as_deref(), warnings).map_err(in_replica)?;
    let mut s = settings(values, address, Vec::new(), Vec::new()).map_err(in_replica)?;
    s.replica_urls.clear();
    s.is_replica = true;
    Ok(s)
}

/// The [`Settings`] of the reduced `values`.
fn settings(
    mut v: Values,
    address: Address,
    mut warnings: Vec<String>,
    sources: Vec<(&'static str, String)>,
) -> Result<Settings, Error> {
    let Address { hosts, user, password, database, host_passwords, .. } = address;
    let (host, port) = hosts[0].clone();
    let target = v.text("targetSessionAttrs")?;
    let balance = v.text("loadBalanceHosts")?;
    let pgbouncer = v.flag("pgbouncer")?;
    let schema = v.opt_text("schema")?;
    let time_zone = v.opt_text("timeZone")?;
    let idle_in_transaction_timeout_ms = v.opt_ms("idleInTransactionTimeoutMs")?;
    // PgBouncer rejects startup options, so these session settings cannot be sent: say so.
    if pgbouncer && (schema.is_some() || time_zone.is_some() || idle_in_transaction_timeout_ms.is_some()) {
        warnings.push(
            "schema, timeZone and idleInTransactionTimeoutMs are not applied with pgbouncer=true (set them on the database or role instead)"
                .into(),
        );
    }
    // PgBouncer in transaction mode cannot keep named statements, and convoys send them.
    let statement_cache_size = if pgbouncer { 0 } else { v.count("statementCacheSize")? };
    let pipeline_depth = if statement_cache_size == 0 { 1 } else { v.count("pipelineDepth")? };
    let int8 = v.text("int8")?;
    let log_level = v.text("logLevel")?;
    let _read_by_the_address = v.opt_text("passfile")?;
    let options = v.opt_text("options")?;
    if pgbouncer && options.is_some() {
        warnings.push("options (PGOPTIONS) are not sent with pgbouncer=true: PgBouncer rejects startup options".into());
    }
    Ok(Settings {
        host,
        port,
        hosts,
        host_passwords,
        target_session_attrs: TargetSessionAttrs::from_name(&target)
            .ok_or_else(|| unmapped("targetSessionAttrs", &target))?,
        load_balance_random: balance == "random",
        user,
        password,
        database,
        connection_limit: v.count("connectionLimit")?,
        min_connections: v.count("minConnections")?,
        pool_timeout_ms: v.ms("poolTimeoutMs")?,
        max_waiting: v.count("maxWaiting")?,
        retry_connect: v.flag("retryConnect")?,
        connect_timeout_ms: v.ms("connectTimeoutMs")?,
        keepalives: v.flag("keepalives")?,
        keepalives_idle_ms: v.ms("keepalivesIdleMs")?,
        keepalives_interval_ms: v.ms("keepalivesIntervalMs")?,
        keepalives_count: v.count("keepalivesCount")? as u32,
        tcp_user_timeout_ms: v.ms("tcpUserTimeoutMs")?,
        idle_timeout_ms: v.ms("idleTimeoutMs")?,
        max_lifetime_ms: v.ms("maxLifetimeMs")?,
        max_uses: v.count("maxUses")? as u64,
        idle_check_ms: v.ms("idleCheckMs")?,
        query_timeout_ms: v.ms("queryTimeoutMs")?,
        idle_in_transaction_timeout_ms,
        statement_cache_size,
        pipeline_depth,
        pgbouncer,
        slow_query_threshold_ms: v.ms("slowQueryThresholdMs")?,
        utilization_alert_threshold: v.num("utilizationAlertThreshold")?,
        utilization_alert_cooldown_ms: v.ms("utilizationAlertCooldownMs")?,
        replica_urls: v.list("replicaUrls")?,
        replicas: Vec::new(),
        max_replica_lag_ms: v.opt_ms("maxReplicaLagMs")?.filter(|ms| *ms > 0),
        is_replica: false,
        application_name: v.text("applicationName")?,
        schema,
        time_zone,
        ssl: v.ssl("ssl")?,
        int8: Int8Mode::from_name(&int8).ok_or_else(|| unmapped("int8", &int8))?,
        log_params: v.flag("logParams")?,
        leak_detection_threshold_ms: v.ms("leakDetectionThresholdMs")?,
        log_level: crate::logging::parse_level(&log_level).ok_or_else(|| unmapped("logLevel", &log_level))?,
        circuit_breaker: v.breaker("circuitBreaker")?,
        options,
        warnings,
        sources,
    })
}

/// The internal error for a value the table accepts but the typed field cannot hold (a bug).
fn unmapped(option: &str, value: &str) -> Error {
    Error::Internal(format!("{option} '{value}' is in the configuration table but has no meaning"))
}
