//! Resolution, precedence, errors, redaction, and the table against docs/CONFIGURATION.md.

use super::table::{DefaultValue, Kind, Range, Setting, Unit, SETTINGS};
use super::*;

/// An environment holding `pairs`.
fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A URL with every part and a percent-encoded password.
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
    assert_eq!(s.min_connections, 0);
    assert!(!s.pgbouncer);
    assert_eq!(s.utilization_alert_cooldown_ms, 10_000);
    assert_eq!(s.replica_urls, Vec::<String>::new());
    assert_eq!(s.schema, None);
    assert_eq!(s.leak_detection_threshold_ms, 0);
    assert_eq!(s.log_level, tracing::Level::INFO);
    assert_eq!(s.circuit_breaker, None);
    assert_eq!(s.warnings, Vec::<String>::new());
}

#[test]
fn keepalive_defaults() {
    let s = resolve(&json!({ "connectionString": URL }), &env(&[]), 2).unwrap();
    assert!(s.keepalives);
    assert_eq!(
        (s.keepalives_idle_ms, s.keepalives_interval_ms, s.keepalives_count, s.tcp_user_timeout_ms),
        (30_000, 10_000, 3, 0)
    );
    let shown = s.describe();
    assert_eq!(
        (
            &shown["keepalives"],
            &shown["keepalivesIdleMs"],
            &shown["keepalivesIntervalMs"],
            &shown["keepalivesCount"],
            &shown["tcpUserTimeoutMs"]
        ),
        (&json!(true), &json!(30_000), &json!(10_000), &json!(3), &json!(0))
    );
}

#[test]
fn keepalive_from_libpq_url_keys_options_and_no_environment() {
    let keys = "keepalives=0&keepalives_idle=7&keepalives_interval=2&keepalives_count=5&tcp_user_timeout=4321";
    let s = resolve(&json!({ "connectionString": format!("{URL}?{keys}") }), &env(&[]), 2).unwrap();
    assert!(!s.keepalives, "keepalives=0 turns them off, as in libpq");
    assert_eq!(
        (s.keepalives_idle_ms, s.keepalives_interval_ms, s.keepalives_count, s.tcp_user_timeout_ms),
        (7_000, 2_000, 5, 4_321),
        "seconds in the URL for idle and interval, ms for tcp_user_timeout, as libpq reads them"
    );
    assert_eq!(s.warnings, Vec::<String>::new(), "libpq's keys are known URL parameters");
    let options = json!({
        "connectionString": format!("{URL}?{keys}"),
        "keepalives": true,
        "keepalivesIdleMs": 60_000,
        "keepalivesIntervalMs": 5_000,
        "keepalivesCount": 9,
        "tcpUserTimeoutMs": 15_000,
    });
    let s = resolve(&options, &env(&[]), 2).unwrap();
    assert!(s.keepalives);
    assert_eq!(
        (s.keepalives_idle_ms, s.keepalives_interval_ms, s.keepalives_count, s.tcp_user_timeout_ms),
        (60_000, 5_000, 9, 15_000),
        "options win over the URL"
    );
    let s = resolve(&json!({ "connectionString": format!("{URL}?keepalives=true&keepalives_idle=0") }), &env(&[]), 2)
        .unwrap();
    assert!(s.keepalives);
    assert_eq!(s.keepalives_idle_ms, 0, "0 leaves the system's idle time");
    // libpq has no environment variable for these; neither does pgwarden.
    for s in SETTINGS.iter().filter(|s| s.option.starts_with("keepalives") || s.option == "tcpUserTimeoutMs") {
        assert!(s.env.is_empty(), "{}", s.option);
    }
    let r = resolve(
        &json!({ "connectionString": format!("{URL}?keepalives_idle=9"), "replicaUrls": ["postgres://r1/db"] }),
        &env(&[]),
        2,
    )
    .unwrap();
    assert_eq!(r.replicas[0].keepalives_idle_ms, 9_000, "a replica takes the primary's");
}

#[test]
fn keepalive_ranges_and_bad_values() {
    let e = |o: Value| {
        let err = resolve(&o, &env(&[]), 2).unwrap_err();
        assert_eq!(err.code(), "ERR_PGWARDEN_CONFIG");
        err.message()
    };
    let url = |params: &str| json!({ "connectionString": format!("{URL}?{params}") });
    let opt = |name: &str, v: Value| json!({ "connectionString": URL, name: v });
    assert_eq!(
        e(url("keepalives=yes")),
        "Invalid keepalives: 'yes' from URL parameter keepalives (expected true or false)"
    );
    assert_eq!(e(opt("keepalives", json!(1))), "Invalid keepalives: 1 from option keepalives (expected true or false)");
    assert_eq!(
        e(url("keepalives_idle=1.5")),
        "Invalid keepalivesIdleMs: '1.5' from URL parameter keepalives_idle (expected whole seconds from 0 to 32767)"
    );
    assert_eq!(
        e(url("keepalives_interval=32768")),
        "Invalid keepalivesIntervalMs: '32768' from URL parameter keepalives_interval (expected whole seconds from 0 to 32767)"
    );
    assert_eq!(
        e(opt("keepalivesIdleMs", json!(1500))),
        "Invalid keepalivesIdleMs: 1500 from option keepalivesIdleMs (expected whole seconds in ms: 0 or a multiple of 1000 up to 32767000)"
    );
    assert_eq!(
        e(opt("keepalivesIntervalMs", json!(-1000))),
        "Invalid keepalivesIntervalMs: -1000 from option keepalivesIntervalMs (expected a non-negative number)"
    );
    assert_eq!(
        e(url("keepalives_count=128")),
        "Invalid keepalivesCount: '128' from URL parameter keepalives_count (expected from 0 to 127)"
    );
    assert_eq!(
        e(opt("keepalivesCount", json!(2.5))),
        "Invalid keepalivesCount: 2.5 from option keepalivesCount (expected a non-negative integer)"
    );
    assert_eq!(
        e(url("tcp_user_timeout=2147483648")),
        "Invalid tcpUserTimeoutMs: '2147483648' from URL parameter tcp_user_timeout (expected from 0 to 2147483647)"
    );
    assert_eq!(
        e(opt("tcpUserTimeoutMs", json!("soon"))),
        "Invalid tcpUserTimeoutMs: 'soon' from option tcpUserTimeoutMs (expected a non-negative number)"
    );
    // The bounds themselves are accepted.
    let s = resolve(
        &url("keepalives_idle=32767&keepalives_interval=1&keepalives_count=127&tcp_user_timeout=2147483647"),
        &env(&[]),
        2,
    )
    .unwrap();
    assert_eq!(
        (s.keepalives_idle_ms, s.keepalives_interval_ms, s.keepalives_count, s.tcp_user_timeout_ms),
        (32_767_000, 1_000, 127, 2_147_483_647)
    );
}

#[test]
fn address_defaults_and_url_overrides() {
    let s = resolve(&json!({ "connectionString": "postgres:///" }), &env(&[]), 2).unwrap();
    assert_eq!(
        (s.host.as_str(), s.port, s.user.as_str(), s.database.as_str()),
        ("localhost", 5432, "postgres", "postgres")
    );
    assert_eq!(s.password, None);
    let url = format!("{URL}?host=h2&port=7&user=bob&password=pw&dbname=d2");
    let s = resolve(&json!({ "connectionString": url }), &env(&[]), 2).unwrap();
    assert_eq!((s.host.as_str(), s.port, s.user.as_str(), s.database.as_str()), ("h2", 7, "bob", "d2"));
    assert_eq!(s.password, Some(Secret("pw".into())));
    let s = resolve(&json!({ "connectionString": "postgres://carol@h/" }), &env(&[]), 2).unwrap();
    assert_eq!(s.database, "carol", "the database defaults to the user");
    let err = resolve(&json!({ "connectionString": format!("{URL}?port=x") }), &env(&[]), 2).unwrap_err();
    assert_eq!(err.message(), "Invalid port: 'x' from URL parameter port (expected a port number)");
}

#[test]
fn range_messages() {
    let e = |o: Value| resolve(&o, &env(&[]), 2).unwrap_err().message();
    assert_eq!(
        e(json!({ "connectionString": format!("{URL}?connection_limit=0") })),
        "Invalid connectionLimit: '0' from URL parameter connection_limit (expected at least 1)"
    );
    assert_eq!(
        e(json!({ "connectionString": URL, "connectionLimit": 2, "minConnections": "3" })),
        "Invalid minConnections: 3 from option minConnections (expected at most connectionLimit, 2)"
    );
    assert_eq!(
        e(json!({ "connectionString": URL, "utilizationAlertThreshold": 1.5 })),
        "Invalid utilizationAlertThreshold: 1.5 from option utilizationAlertThreshold (expected a fraction above 0 and at most 1, e.g. 0.8)"
    );
    assert_eq!(
        e(json!({ "connectionString": URL, "int8": "double" })),
        "Invalid int8: 'double' from option int8 (expected 'string', 'bigint' or 'number')"
    );
    assert_eq!(
        e(json!({ "connectionString": URL, "logLevel": "trace" })),
        "Invalid logLevel: 'trace' from option logLevel (expected 'debug', 'info', 'warn' or 'error')"
    );
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
    let s =
        resolve(&json!({ "connectionString": format!("{URL}?pgbouncer=true&statement_cache_size=50") }), &env(&[]), 2)
            .unwrap();
    assert!(s.pgbouncer);
    assert_eq!(s.statement_cache_size, 0);
}

#[test]
fn pgbouncer_warns_about_session_settings() {
    let s = resolve(&json!({ "connectionString": format!("{URL}?pgbouncer=true&schema=app") }), &env(&[]), 2).unwrap();
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
    let both = env(&[("DATABASE_REPLICA_URLS", "postgres://r3/db"), ("DATABASE_REPLICA_URL", "postgres://r4/db")]);
    let s = resolve(&json!({ "connectionString": URL }), &both, 2).unwrap();
    assert_eq!(s.replica_urls, vec!["postgres://r3/db"]);
}

#[test]
fn replicas_take_the_primary_settings_unless_their_url_overrides_them() {
    let options = json!({
        "connectionString": "postgres://app:pw@primary:5432/main?pool_timeout=7&application_name=api",
        "connectionLimit": 9,
        "queryTimeoutMs": 1234,
        "maxReplicaLagMs": 500,
        "replicaUrls": ["postgres://r1:6432", "postgres://ro:other@r2/ro_db?connection_limit=2&application_name=reader&x=1"],
    });
    let s = resolve(&options, &env(&[]), 2).unwrap();
    assert_eq!(s.max_replica_lag_ms, Some(500));
    let (r1, r2) = (&s.replicas[0], &s.replicas[1]);
    assert_eq!((r1.host.as_str(), r1.port, r1.user.as_str(), r1.database.as_str()), ("r1", 6432, "app", "main"));
    assert_eq!(r1.password, s.password);
    assert_eq!((r1.connection_limit, r1.query_timeout_ms, r1.pool_timeout_ms), (9, 1234, 7000));
    assert_eq!(r1.application_name, "api");
    assert_eq!((r2.user.as_str(), r2.database.as_str(), r2.port), ("ro", "ro_db", 5432));
    assert_eq!(r2.password, Some(Secret("other".into())));
    assert_eq!((r2.connection_limit, r2.application_name.as_str()), (2, "reader"));
    assert!(r1.replicas.is_empty() && r1.replica_urls.is_empty());
    assert_eq!(s.warnings, vec!["Unknown URL parameter 'x' ignored in replica URL postgres://ro:***@r2/ro_db?connection_limit=2&application_name=reader&x=1"]);
    assert_eq!(
        resolve(&json!({ "connectionString": URL, "maxReplicaLagMs": 0 }), &env(&[]), 2).unwrap().max_replica_lag_ms,
        None
    );
}

#[test]
fn replica_url_parameters_are_validated_and_errors_hide_the_password() {
    let bad = json!({ "connectionString": URL, "replicaUrls": ["postgres://u:hunter2@r/db?connection_limit=abc"] });
    let e = resolve(&bad, &env(&[]), 2).unwrap_err();
    assert_eq!(e.code(), "ERR_PGWARDEN_CONFIG");
    assert!(
        e.message().contains("connectionLimit") && e.message().contains("replica URL postgres://u:***@r/db"),
        "{}",
        e.message()
    );
    assert!(!e.message().contains("hunter2"));
    let bad = json!({ "connectionString": URL, "replicaUrls": ["mysql://u:hunter2@r/db"] });
    let e = resolve(&bad, &env(&[]), 2).unwrap_err();
    assert!(e.message().contains("replicaUrls") && !e.message().contains("hunter2"), "{}", e.message());
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

#[test]
fn connection_limit_default_follows_cpus() {
    for (cpus, limit) in [(1, 3), (2, 5), (8, 17)] {
        let s = resolve(&json!({ "connectionString": URL }), &env(&[]), cpus).unwrap();
        assert_eq!(s.connection_limit, limit);
    }
}

#[test]
fn env_names_come_from_the_table_in_order() {
    assert_eq!(
        ENV_NAMES,
        &[
            "DATABASE_URL",
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGPASSWORD",
            "PGDATABASE",
            "PGPASSFILE",
            "PGOPTIONS",
            "DB_CONNECTION_LIMIT",
            "DATABASE_CONNECTION_LIMIT",
            "DATABASE_POOL_SIZE",
            "DB_POOL_TIMEOUT",
            "DATABASE_POOL_TIMEOUT",
            "DATABASE_CONNECT_TIMEOUT",
            "PGCONNECT_TIMEOUT",
            "DB_QUERY_TIMEOUT",
            "DATABASE_QUERY_TIMEOUT",
            "DATABASE_STATEMENT_TIMEOUT",
            "DATABASE_IDLE_IN_TRANSACTION_SESSION_TIMEOUT",
            "PGTARGETSESSIONATTRS",
            "PGLOADBALANCEHOSTS",
            "DB_STATEMENT_CACHE_SIZE",
            "DB_PIPELINE_DEPTH",
            "DB_SLOW_QUERY_THRESHOLD",
            "SLOW_QUERY_THRESHOLD",
            "DATABASE_REPLICA_URLS",
            "DATABASE_REPLICA_URL",
            "PGAPPNAME",
            "PGSSLMODE",
        ]
    );
}

#[test]
fn table_names_are_unique() {
    let mut seen = std::collections::HashSet::new();
    for s in SETTINGS {
        assert!(seen.insert(format!("option {}", s.option)), "{}", s.option);
        for k in s.url {
            assert!(seen.insert(format!("url {k}")), "{k}");
        }
        for e in s.env {
            assert!(seen.insert(format!("env {e}")), "{e}");
        }
    }
}

#[test]
fn every_choice_of_the_table_has_a_meaning() {
    let choices = |option: &str| match table::setting(option).unwrap().kind {
        Kind::OneOf(names) => names,
        other => panic!("{option} is {other:?}"),
    };
    for name in choices("int8") {
        assert_eq!(Int8Mode::from_name(name).map(Int8Mode::name), Some(*name));
    }
    for name in choices("logLevel") {
        assert!(crate::logging::parse_level(name).is_some(), "{name}");
    }
}

#[test]
fn unknown_options_warn_and_known_ones_do_not() {
    let mut o = json!({ "connectionString": URL, "connectionLimt": 3 });
    for s in SETTINGS.iter().filter(|s| s.option != "connectionString") {
        o[s.option] = Value::Null;
    }
    let s = resolve(&o, &env(&[]), 2).unwrap();
    assert_eq!(s.warnings, vec!["Unknown option 'connectionLimt' ignored".to_string()]);
}

/// The reference of every setting, checked against the table.
const DOC: &str = include_str!("../../docs/CONFIGURATION.md");
/// The TypeScript types, whose `PoolOptions` must name every option.
const TYPES: &str = include_str!("../../index.d.ts");

/// The rows of the settings table in [`DOC`] (before the per-call defaults): cells without
/// backticks, keyed by option.
fn doc_rows() -> HashMap<String, Vec<String>> {
    let settings = DOC.split("\n## Defaults of the per-call options").next().unwrap_or(DOC);
    let rows = settings.lines().filter(|l| l.starts_with("| `")).map(|l| {
        let cells: Vec<String> =
            l.trim().trim_matches('|').split('|').map(|c| c.replace('`', "").trim().to_string()).collect();
        (cells[0].clone(), cells)
    });
    let mut out = HashMap::new();
    for (option, cells) in rows {
        assert!(out.insert(option.clone(), cells).is_none(), "{option} is documented twice");
    }
    out
}

/// A list column: the names joined by ", ", or "—" for none.
fn list_doc(names: &[&str]) -> String {
    if names.is_empty() {
        "—".into()
    } else {
        names.join(", ")
    }
}

/// The unit column of `s`: its kind (with the unit of URL/env values) and range.
fn unit_doc(s: &Setting) -> String {
    let kind = match s.kind {
        Kind::Ms(Unit::Ms) => "ms".to_string(),
        Kind::Ms(Unit::Seconds) => match (s.url.is_empty(), s.env.is_empty()) {
            (false, false) => "ms (s in URL and env)".into(),
            (false, true) => "ms (s in URL)".into(),
            _ => "ms (s in env)".into(),
        },
        Kind::Count => "count".into(),
        Kind::Number => "number".into(),
        Kind::Bool => "boolean".into(),
        Kind::Text => "string".into(),
        Kind::OneOf(names) => format!("one of {}", names.join(", ")),
        Kind::UrlList => "URL list".into(),
        Kind::ConnectionUrl => "URL".into(),
        Kind::AddressPart => "address part".into(),
        Kind::Ssl => "boolean, mode or object".into(),
        Kind::Breaker => "boolean or object".into(),
        Kind::JsObject => "object or false".into(),
        Kind::JsFunction => "function".into(),
        Kind::JsSwitch => "boolean or object".into(),
    };
    match s.range {
        Range::Any => kind,
        Range::AtLeast(min) => format!("{kind} ≥ {min}"),
        Range::AtMost(other) => format!("{kind} ≤ {other}"),
        Range::Fraction => format!("{kind} in (0, 1]"),
        Range::Between(min, max) => format!("{kind} in [{min}, {max}]"),
        Range::WholeSeconds(max) => format!("{kind}, whole seconds ≤ {max}"),
    }
}

/// The sslmode value that names `mode`.
fn ssl_mode_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => "verify-ca",
        SslMode::VerifyFull => "verify-full",
    }
}

/// The default column of `s`.
fn default_doc(s: &Setting) -> String {
    match s.default {
        DefaultValue::Unset => "none".into(),
        DefaultValue::Num(n) => format!("{n}"),
        DefaultValue::PerCpu { per_cpu, plus } => format!("cpus × {per_cpu} + {plus}"),
        DefaultValue::Flag(b) => format!("{b}"),
        DefaultValue::Str(text) | DefaultValue::JsSide(text) => text.into(),
        DefaultValue::Ssl(mode) => ssl_mode_name(mode).into(),
        DefaultValue::Breaker { failure_threshold, cooldown_ms } => {
            format!("off (true: failureThreshold {failure_threshold}, cooldownMs {cooldown_ms})")
        }
        DefaultValue::SameAsUser => "the user".into(),
    }
}

/// The body of `interface PoolOptions` in [`TYPES`].
fn pool_options_type() -> &'static str {
    let start = TYPES.find("export interface PoolOptions {").expect("index.d.ts declares PoolOptions");
    let body = &TYPES[start..];
    &body[..body.find("\n}").expect("PoolOptions ends")]
}

#[test]
fn docs_and_types_match_the_table() {
    let (mut rows, options_type) = (doc_rows(), pool_options_type());
    for s in SETTINGS {
        assert!(options_type.contains(&format!("\n  {}?:", s.option)), "PoolOptions lacks {}", s.option);
        let cells = rows.remove(s.option).unwrap_or_else(|| panic!("docs/CONFIGURATION.md lacks {}", s.option));
        assert_eq!(cells.len(), 6, "{}: option, URL key, environment, unit, default, meaning", s.option);
        assert_eq!(cells[1], list_doc(s.url), "URL keys of {}", s.option);
        assert_eq!(cells[2], list_doc(s.env), "environment of {}", s.option);
        assert_eq!(cells[3], unit_doc(s), "unit of {}", s.option);
        assert_eq!(cells[4], default_doc(s), "default of {}", s.option);
    }
    assert!(rows.is_empty(), "documented but not in the table: {:?}", rows.keys());
}

#[test]
fn sources_say_where_each_value_came_from() {
    let url = "postgres://u:secret@h:5433/db?pool_timeout=7&sslmode=require";
    let e = env(&[("DATABASE_URL", url), ("DB_QUERY_TIMEOUT", "9000")]);
    let s = resolve(&json!({ "connectionLimit": 3 }), &e, 2).unwrap();
    let rows = s.sources_json();
    let row = |name: &str| rows.as_array().unwrap().iter().find(|r| r["name"] == name).unwrap().clone();
    assert_eq!(
        row("connectionString"),
        json!({ "name": "connectionString", "value": "postgres://u@h:5433/db", "source": "environment variable DATABASE_URL" })
    );
    assert_eq!(row("connectionLimit")["source"], "option connectionLimit");
    assert_eq!(
        row("poolTimeoutMs"),
        json!({ "name": "poolTimeoutMs", "value": 7000, "source": "URL parameter pool_timeout" })
    );
    assert_eq!(row("queryTimeoutMs")["source"], "environment variable DB_QUERY_TIMEOUT");
    assert_eq!(row("ssl"), json!({ "name": "ssl", "value": "require", "source": "URL parameter sslmode" }));
    assert_eq!(row("idleTimeoutMs")["source"], "default");
    assert!(!rows.to_string().contains("secret"));
    assert!(rows.as_array().unwrap().iter().all(|r| r["name"] != "logger"));
}

#[test]
fn replicas_choose_among_their_own_hosts() {
    use super::TargetSessionAttrs as T;
    let primary_env = env(&[("PGTARGETSESSIONATTRS", "read-write")]);
    let options = json!({
        "connectionString": "postgres://u@a:1,b:2/db?target_session_attrs=read-write",
        "replicaUrls": ["postgres://u@r1,r2/db?target_session_attrs=standby", "postgres://u@r3/db"],
    });
    let s = resolve(&options, &primary_env, 2).unwrap();
    assert_eq!(s.hosts, vec![("a".to_string(), 1), ("b".to_string(), 2)]);
    assert_eq!(s.target_session_attrs, T::ReadWrite);
    assert_eq!(s.replicas[0].target_session_attrs, T::Standby);
    assert_eq!(s.replicas[0].hosts.len(), 2);
    // Neither the primary's URL nor the environment chooses among a replica's hosts.
    assert_eq!(s.replicas[1].target_session_attrs, T::Any);
}

#[test]
fn each_host_gets_its_own_password_file_line() {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("pgwarden-pgpass-hosts-{}", std::process::id()));
    std::fs::write(&path, "a:1:db:u:for-a\nb:2:db:u:for-b\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = path.to_string_lossy().into_owned();
    let with = |url: &str, hosts_env: &[(&str, &str)]| {
        let mut pairs = vec![("PGPASSFILE", file.as_str())];
        pairs.extend_from_slice(hosts_env);
        resolve(&json!({ "connectionString": url }), &env(&pairs), 2).unwrap()
    };
    let several = with("postgres://u@a:1,b:2,c:3/db", &[]);
    let shown: Vec<Option<&str>> = several.host_passwords.iter().map(|p| p.as_ref().map(|s| s.0.as_str())).collect();
    assert_eq!(shown, vec![Some("for-a"), Some("for-b"), None], "one host's password is never another's");
    let one = with("postgres://u@b:2/db", &[]);
    assert!(one.host_passwords.is_empty());
    assert_eq!(one.password.map(|p| p.0), Some("for-b".to_string()));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_near_miss_option_name_is_named_in_its_warning() {
    let s = resolve(&json!({ "connectionString": URL, "poolTimeout": 20 }), &env(&[]), 2).unwrap();
    assert_eq!(
        s.warnings,
        vec!["Unknown option 'poolTimeout' ignored: did you mean poolTimeoutMs (milliseconds; Prisma's pool_timeout is in seconds)?".to_string()]
    );
    for (typed, meant) in super::table::NEAR_MISSES {
        assert!(!super::table::is_option(typed), "{typed} is an option, not a near miss");
        let option = meant.split(' ').next().unwrap_or_default();
        assert!(super::table::is_option(option), "{typed} points at {option}, which is not an option");
    }
}
