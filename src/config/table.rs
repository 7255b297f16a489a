//! The settings table: every setting, where it can come from, its kind, its default and its
//! range. [`super::resolve`] walks it in order; the known options, URL parameters and
//! environment variables are read from it, and docs/CONFIGURATION.md is checked against it.

use super::SslMode;
use crate::error::Error;
use DefaultValue as D;
use Kind as K;

/// The unit of a millisecond setting's URL and environment values (options are always ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    /// Milliseconds.
    Ms,
    /// Seconds, as the URL parameters of Prisma and libpq are.
    Seconds,
}

impl Unit {
    /// Milliseconds per unit.
    pub(super) fn ms(self) -> f64 {
        match self {
            Unit::Ms => 1.0,
            Unit::Seconds => 1000.0,
        }
    }
}

/// What a setting holds, which fixes how each source is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind {
    /// A duration, ms as an option; URL and environment values are in the unit.
    Ms(Unit),
    /// A non-negative whole number.
    Count,
    /// A non-negative number.
    Number,
    /// `true`/`false` (`1`/`0` as text too).
    Bool,
    /// A string.
    Text,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// Connection URLs: an array of strings, comma-separated in the environment.
    UrlList,
    /// The connection URL (its parts are the address rows).
    ConnectionUrl,
    /// A part of the address (host, port, user, password, database): an option, its URL
    /// parameter, the connection URL's own part, or its libpq environment variable.
    AddressPart,
    /// TLS: a boolean, a mode or an object; its URL keys give mode, root cert, cert and key.
    Ssl,
    /// The circuit breaker: a boolean or an object.
    Breaker,
    /// An object that only the JavaScript layer reads.
    JsObject,
    /// A function that only the JavaScript layer calls.
    JsFunction,
    /// `true`, `false` or an options object, read only by the JavaScript layer.
    JsSwitch,
}

/// The value a setting takes when no source sets it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum DefaultValue {
    /// None: the setting is off or left to the server.
    Unset,
    /// A number, in ms for durations.
    Num(f64),
    /// `cpus × per_cpu + plus`.
    PerCpu {
        /// Connections per CPU.
        per_cpu: usize,
        /// Connections added.
        plus: usize,
    },
    /// A boolean.
    Flag(bool),
    /// A string.
    Str(&'static str),
    /// A TLS mode.
    Ssl(SslMode),
    /// Off; `true` turns it on with these field defaults.
    Breaker {
        /// Consecutive connection failures that open the breaker.
        failure_threshold: u32,
        /// How long it stays open, ms.
        cooldown_ms: u64,
    },
    /// The user's name (the database's default, as in libpq).
    SameAsUser,
    /// Applied by the JavaScript layer.
    JsSide(&'static str),
}

/// Validation beyond the kind's own, for numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Range {
    /// Any value of the kind.
    Any,
    /// At least this number.
    AtLeast(u64),
    /// At most the value of this setting, which comes earlier in the table.
    AtMost(&'static str),
    /// Above 0 and at most 1.
    Fraction,
    /// From the first number to the second, both included.
    Between(u64, u64),
    /// 0, or whole seconds up to this many (ms as an option): a kernel setting counted in
    /// seconds, where 0 leaves the system's own value.
    WholeSeconds(u64),
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Setting {
    /// The option name, as JavaScript passes it.
    pub(super) option: &'static str,
    /// URL query parameters that set it (for connectionString and ssl: its parts).
    pub(super) url: &'static [&'static str],
    /// Environment variables that set it; the first one set wins.
    pub(super) env: &'static [&'static str],
    /// How it is read.
    pub(super) kind: Kind,
    /// Its value when no source sets it.
    pub(super) default: DefaultValue,
    /// Its range.
    pub(super) range: Range,
}

/// The most seconds Linux takes for TCP_KEEPIDLE and TCP_KEEPINTVL (MAX_TCP_KEEPIDLE,
/// MAX_TCP_KEEPINTVL); a larger value would fail every connect instead of the constructor.
const MAX_KEEPALIVE_SECONDS: u64 = 32_767;
/// The most probes Linux takes for TCP_KEEPCNT (MAX_TCP_KEEPCNT).
const MAX_KEEPALIVE_COUNT: u64 = 127;

/// The base of the rows below: no URL key, no environment variable, unset, any value.
const ROW: Setting =
    Setting { option: "", url: &[], env: &[], kind: Kind::Text, default: DefaultValue::Unset, range: Range::Any };

/// Every setting, in the order they are resolved (an error names the first bad one).
pub(super) const SETTINGS: &[Setting] = &[
    Setting { option: "connectionString", env: &["DATABASE_URL"], kind: K::ConnectionUrl, ..ROW },
    Setting {
        option: "host",
        url: &["host"],
        env: &["PGHOST"],
        kind: K::AddressPart,
        default: D::Str("localhost"),
        ..ROW
    },
    Setting { option: "port", url: &["port"], env: &["PGPORT"], kind: K::AddressPart, default: D::Num(5432.0), ..ROW },
    Setting {
        option: "user",
        url: &["user"],
        env: &["PGUSER"],
        kind: K::AddressPart,
        default: D::Str("postgres"),
        ..ROW
    },
    Setting { option: "password", url: &["password"], env: &["PGPASSWORD"], kind: K::AddressPart, ..ROW },
    Setting {
        option: "database",
        url: &["dbname"],
        env: &["PGDATABASE"],
        kind: K::AddressPart,
        default: D::SameAsUser,
        ..ROW
    },
    Setting {
        option: "passfile",
        url: &["passfile"],
        env: &["PGPASSFILE"],
        kind: K::Text,
        default: D::Str("~/.pgpass"),
        ..ROW
    },
    Setting { option: "options", url: &["options"], env: &["PGOPTIONS"], kind: K::Text, ..ROW },
    Setting {
        option: "connectionLimit",
        url: &["connection_limit"],
        env: &["DB_CONNECTION_LIMIT", "DATABASE_CONNECTION_LIMIT", "DATABASE_POOL_SIZE"],
        kind: K::Count,
        default: D::PerCpu { per_cpu: 2, plus: 1 },
        range: Range::AtLeast(1),
    },
    Setting {
        option: "minConnections",
        kind: K::Count,
        default: D::Num(0.0),
        range: Range::AtMost("connectionLimit"),
        ..ROW
    },
    Setting {
        option: "poolTimeoutMs",
        url: &["pool_timeout"],
        env: &["DB_POOL_TIMEOUT", "DATABASE_POOL_TIMEOUT"],
        kind: K::Ms(Unit::Seconds),
        default: D::Num(10_000.0),
        ..ROW
    },
    Setting { option: "maxWaiting", kind: K::Count, default: D::Num(0.0), ..ROW },
    Setting { option: "retryConnect", kind: K::Bool, default: D::Flag(true), ..ROW },
    Setting {
        option: "connectTimeoutMs",
        url: &["connect_timeout"],
        env: &["DATABASE_CONNECT_TIMEOUT", "PGCONNECT_TIMEOUT"],
        kind: K::Ms(Unit::Seconds),
        default: D::Num(5_000.0),
        ..ROW
    },
    Setting { option: "keepalives", url: &["keepalives"], kind: K::Bool, default: D::Flag(true), ..ROW },
    Setting {
        option: "keepalivesIdleMs",
        url: &["keepalives_idle"],
        kind: K::Ms(Unit::Seconds),
        default: D::Num(30_000.0),
        range: Range::WholeSeconds(MAX_KEEPALIVE_SECONDS),
        ..ROW
    },
    Setting {
        option: "keepalivesIntervalMs",
        url: &["keepalives_interval"],
        kind: K::Ms(Unit::Seconds),
        default: D::Num(10_000.0),
        range: Range::WholeSeconds(MAX_KEEPALIVE_SECONDS),
        ..ROW
    },
    Setting {
        option: "keepalivesCount",
        url: &["keepalives_count"],
        kind: K::Count,
        default: D::Num(3.0),
        range: Range::Between(0, MAX_KEEPALIVE_COUNT),
        ..ROW
    },
    Setting {
        option: "tcpUserTimeoutMs",
        url: &["tcp_user_timeout"],
        kind: K::Ms(Unit::Ms),
        default: D::Num(0.0),
        range: Range::Between(0, i32::MAX as u64),
        ..ROW
    },
    Setting {
        option: "idleTimeoutMs",
        url: &["idle_timeout"],
        kind: K::Ms(Unit::Seconds),
        default: D::Num(60_000.0),
        ..ROW
    },
    Setting {
        option: "maxLifetimeMs",
        url: &["max_lifetime"],
        kind: K::Ms(Unit::Seconds),
        default: D::Num(1_800_000.0),
        ..ROW
    },
    Setting { option: "maxUses", kind: K::Count, default: D::Num(0.0), ..ROW },
    Setting { option: "idleCheckMs", kind: K::Ms(Unit::Ms), default: D::Num(1_000.0), ..ROW },
    Setting {
        option: "queryTimeoutMs",
        url: &["statement_timeout"],
        env: &["DB_QUERY_TIMEOUT", "DATABASE_QUERY_TIMEOUT", "DATABASE_STATEMENT_TIMEOUT"],
        kind: K::Ms(Unit::Ms),
        default: D::Num(30_000.0),
        ..ROW
    },
    Setting {
        option: "idleInTransactionTimeoutMs",
        url: &["idle_in_transaction_session_timeout"],
        env: &["DATABASE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT"],
        kind: K::Ms(Unit::Ms),
        ..ROW
    },
    Setting { option: "pgbouncer", url: &["pgbouncer"], kind: K::Bool, default: D::Flag(false), ..ROW },
    Setting {
        option: "targetSessionAttrs",
        url: &["target_session_attrs"],
        env: &["PGTARGETSESSIONATTRS"],
        kind: K::OneOf(&["any", "read-write", "read-only", "primary", "standby", "prefer-standby"]),
        default: D::Str("any"),
        ..ROW
    },
    Setting {
        option: "loadBalanceHosts",
        url: &["load_balance_hosts"],
        env: &["PGLOADBALANCEHOSTS"],
        kind: K::OneOf(&["disable", "random"]),
        default: D::Str("disable"),
        ..ROW
    },
    Setting {
        option: "statementCacheSize",
        url: &["statement_cache_size"],
        env: &["DB_STATEMENT_CACHE_SIZE"],
        kind: K::Count,
        default: D::Num(100.0),
        ..ROW
    },
    Setting {
        option: "pipelineDepth",
        url: &["pipeline_depth"],
        env: &["DB_PIPELINE_DEPTH"],
        kind: K::Count,
        default: D::Num(8.0),
        range: Range::AtLeast(1),
    },
    Setting {
        option: "slowQueryThresholdMs",
        env: &["DB_SLOW_QUERY_THRESHOLD", "SLOW_QUERY_THRESHOLD"],
        kind: K::Ms(Unit::Ms),
        default: D::Num(1000.0),
        ..ROW
    },
    Setting {
        option: "utilizationAlertThreshold",
        kind: K::Number,
        default: D::Num(0.8),
        range: Range::Fraction,
        ..ROW
    },
    Setting { option: "utilizationAlertCooldownMs", kind: K::Ms(Unit::Ms), default: D::Num(10_000.0), ..ROW },
    Setting { option: "replicaUrls", env: &["DATABASE_REPLICA_URLS", "DATABASE_REPLICA_URL"], kind: K::UrlList, ..ROW },
    Setting { option: "maxReplicaLagMs", kind: K::Ms(Unit::Ms), ..ROW },
    Setting {
        option: "applicationName",
        url: &["application_name"],
        env: &["PGAPPNAME"],
        kind: K::Text,
        default: D::Str("pgwarden"),
        ..ROW
    },
    Setting { option: "schema", url: &["schema"], kind: K::Text, ..ROW },
    Setting { option: "timeZone", kind: K::Text, ..ROW },
    Setting { option: "int8", kind: K::OneOf(&["string", "bigint", "number"]), default: D::Str("string"), ..ROW },
    Setting { option: "logParams", kind: K::Bool, default: D::Flag(false), ..ROW },
    Setting { option: "leakDetectionThresholdMs", kind: K::Ms(Unit::Ms), default: D::Num(0.0), ..ROW },
    Setting {
        option: "ssl",
        url: &["sslmode", "sslrootcert", "sslcert", "sslkey"],
        env: &["PGSSLMODE"],
        kind: K::Ssl,
        default: D::Ssl(SslMode::Prefer),
        ..ROW
    },
    Setting {
        option: "circuitBreaker",
        kind: K::Breaker,
        default: D::Breaker { failure_threshold: 5, cooldown_ms: 5000 },
        ..ROW
    },
    Setting { option: "logLevel", kind: K::OneOf(&["debug", "info", "warn", "error"]), default: D::Str("info"), ..ROW },
    Setting { option: "logger", kind: K::JsObject, default: D::JsSide("console"), ..ROW },
    Setting { option: "onConnect", kind: K::JsFunction, default: D::JsSide("none"), ..ROW },
    Setting { option: "telemetry", kind: K::JsSwitch, default: D::JsSide("off"), ..ROW },
];

/// How many environment variable names the table holds.
const ENV_COUNT: usize = {
    let (mut n, mut i) = (0, 0);
    while i < SETTINGS.len() {
        n += SETTINGS[i].env.len();
        i += 1;
    }
    n
};

/// Environment variables pgwarden reads, in table order; the JS layer passes exactly these.
pub(crate) const ENV_NAMES: &[&str] = &{
    let mut names = [""; ENV_COUNT];
    let (mut i, mut k) = (0, 0);
    while i < SETTINGS.len() {
        let mut j = 0;
        while j < SETTINGS[i].env.len() {
            names[k] = SETTINGS[i].env[j];
            k += 1;
            j += 1;
        }
        i += 1;
    }
    names
};

/// Option names users type for a pgwarden option (Prisma's URL parameters, pg's and pg-pool's
/// option names, a unit left off): the warning for one names the option meant.
pub(super) const NEAR_MISSES: &[(&str, &str)] = &[
    ("poolTimeout", "poolTimeoutMs (milliseconds; Prisma's pool_timeout is in seconds)"),
    ("pool_timeout", "poolTimeoutMs (milliseconds; Prisma's pool_timeout is in seconds)"),
    ("connection_limit", "connectionLimit"),
    ("connectionTimeoutMillis", "poolTimeoutMs (how long a caller waits for a connection)"),
    ("connectTimeout", "connectTimeoutMs"),
    ("connect_timeout", "connectTimeoutMs (milliseconds; libpq's connect_timeout is in seconds)"),
    ("idleTimeout", "idleTimeoutMs"),
    ("idleTimeoutMillis", "idleTimeoutMs"),
    ("queryTimeout", "queryTimeoutMs"),
    ("query_timeout", "queryTimeoutMs"),
    ("statementTimeout", "queryTimeoutMs"),
    ("statement_timeout", "queryTimeoutMs"),
    ("maxLifetime", "maxLifetimeMs"),
    ("maxLifetimeSeconds", "maxLifetimeMs (milliseconds)"),
    ("slowQueryThreshold", "slowQueryThresholdMs"),
    ("max", "connectionLimit"),
    ("poolSize", "connectionLimit"),
    ("maxConnections", "connectionLimit"),
    ("min", "minConnections"),
    ("url", "connectionString"),
    ("connectionUrl", "connectionString"),
    ("databaseUrl", "connectionString"),
];

/// The warning for an option pgwarden does not understand, naming the one meant when it is a
/// known near miss.
pub(super) fn unknown_option_warning(name: &str) -> String {
    match NEAR_MISSES.iter().find(|(typed, _)| *typed == name) {
        Some((_, meant)) => format!("Unknown option '{name}' ignored: did you mean {meant}?"),
        None => format!("Unknown option '{name}' ignored"),
    }
}

/// Every option name, in table order (`pgwarden/pg` passes these through as they are).
pub(crate) fn option_names() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().map(|s| s.option)
}

/// Whether `name` is an option pgwarden understands (others draw one warning).
pub(super) fn is_option(name: &str) -> bool {
    SETTINGS.iter().any(|s| s.option == name)
}

/// Whether `key` is a URL query parameter pgwarden understands (others draw one warning).
pub(super) fn is_url_param(key: &str) -> bool {
    SETTINGS.iter().any(|s| s.url.contains(&key))
}

/// The address rows (host, port, user, password, database), in that order.
pub(super) fn address_rows() -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().filter(|s| s.kind == Kind::AddressPart)
}

/// Settings that choose among a URL's own hosts: a replica URL never inherits them from the
/// primary's (a primary's `target_session_attrs=read-write` would refuse every standby).
const PER_HOST_LIST: [&str; 2] = ["targetSessionAttrs", "loadBalanceHosts"];

/// Whether `key` is a URL parameter of the address (the primary's is not a replica's): its
/// parts, and the settings that choose among its hosts.
pub(super) fn is_address_key(key: &str) -> bool {
    address_rows().any(|s| s.url.contains(&key))
        || SETTINGS.iter().any(|s| PER_HOST_LIST.contains(&s.option) && s.url.contains(&key))
}

/// Whether environment variable `name` chooses among the hosts (a replica never takes it).
pub(super) fn is_address_env(name: &str) -> bool {
    SETTINGS.iter().any(|s| PER_HOST_LIST.contains(&s.option) && s.env.contains(&name))
}

/// Whether option `name` belongs to one URL's address (see [`is_address_key`]).
pub(super) fn is_address_option(name: &str) -> bool {
    PER_HOST_LIST.contains(&name) || setting(name).is_ok_and(|s| s.kind == Kind::AddressPart)
}

/// The row of `option`.
pub(super) fn setting(option: &str) -> Result<&'static Setting, Error> {
    SETTINGS
        .iter()
        .find(|s| s.option == option)
        .ok_or_else(|| Error::Internal(format!("no setting {option} in the configuration table")))
}

/// `'a', 'b' or 'c'`: the accepted values of a [`Kind::OneOf`], for error messages.
pub(super) fn quoted_choices(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}
