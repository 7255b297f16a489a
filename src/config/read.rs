//! The one reduce over the table: for each setting, option > URL query parameter >
//! environment variable > default, read and validated by the setting's kind and range.

use super::special;
use super::table::{quoted_choices, DefaultValue, Kind, Range, Setting, SETTINGS};
use super::SslSettings;
use crate::error::Error;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
pub(super) enum Source {
    /// An option of the JS options object.
    Option(&'static str),
    /// A query parameter of the connection URL.
    Url(&'static str),
    /// An environment variable.
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
pub(super) enum Raw {
    /// A JSON number (options only).
    Num(f64),
    /// Text: a JSON string, a URL parameter or an environment variable.
    Text(String),
    /// Any other JSON value (options only).
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

/// `Invalid {option}: {value} from {source} (expected {expected})`, an ERR_PGWARDEN_CONFIG.
pub(super) fn config_error(option: &str, source: &Source, value: impl fmt::Display, expected: &str) -> Error {
    Error::Config(format!("Invalid {option}: {value} from {source} (expected {expected})"))
}

/// The three places a setting can come from.
pub(super) struct Inputs<'a> {
    /// The JS options object.
    pub(super) options: &'a Map<String, Value>,
    /// The known query parameters of the connection URL.
    pub(super) url: HashMap<String, String>,
    /// The environment variables of the table that are set.
    pub(super) env: &'a HashMap<String, String>,
}

impl Inputs<'_> {
    /// The value that wins for `s`: a non-null option, else its first URL key present, else its
    /// first environment variable set.
    pub(super) fn pick(&self, s: &Setting) -> Option<(Source, Raw)> {
        if let Some(v) = self.options.get(s.option).filter(|v| !v.is_null()) {
            let raw = match v {
                Value::Number(n) => Raw::Num(n.as_f64().unwrap_or(f64::NAN)),
                Value::String(s) => Raw::Text(s.clone()),
                other => Raw::Json(other.clone()),
            };
            return Some((Source::Option(s.option), raw));
        }
        let url = s.url.iter().find_map(|name| Some((Source::Url(name), Raw::Text(self.url.get(*name)?.clone()))));
        url.or_else(|| s.env.iter().find_map(|name| Some((Source::Env(name), Raw::Text(self.env.get(*name)?.clone())))))
    }
}

/// A setting's value after the reduce.
#[derive(Debug)]
pub(super) enum Val {
    /// Not set.
    Unset,
    /// A number (durations in ms).
    Num(f64),
    /// A boolean.
    Flag(bool),
    /// A string.
    Text(String),
    /// A list of strings.
    List(Vec<String>),
    /// TLS settings.
    Ssl(SslSettings),
    /// Circuit breaker (failure threshold, cool-down ms), if on.
    Breaker(Option<(u32, u64)>),
}

/// Each setting's value, by option name.
#[derive(Debug, Default)]
pub(super) struct Values(HashMap<&'static str, Val>);

/// Reads every setting of the table, in table order.
pub(super) fn reduce(inputs: &Inputs, cpus: usize) -> Result<Values, Error> {
    SETTINGS.iter().try_fold(Values::default(), |mut values, s| {
        let val = match s.kind {
            // Read before the reduce (the URL) and after it (its parts), or by JavaScript.
            Kind::ConnectionUrl | Kind::AddressPart | Kind::JsObject | Kind::JsFunction | Kind::JsSwitch => {
                return Ok(values)
            }
            Kind::Ssl => Val::Ssl(special::ssl(s, inputs)?),
            Kind::Breaker => Val::Breaker(special::breaker(s, inputs.options)?),
            _ => match inputs.pick(s) {
                Some((source, raw)) => read(s, &source, raw, &values)?,
                None => default_value(s.default, cpus),
            },
        };
        values.0.insert(s.option, val);
        Ok(values)
    })
}

/// The value of a default that the reduce itself applies.
fn default_value(default: DefaultValue, cpus: usize) -> Val {
    match default {
        DefaultValue::Num(n) => Val::Num(n),
        DefaultValue::PerCpu { per_cpu, plus } => Val::Num((cpus * per_cpu + plus) as f64),
        DefaultValue::Flag(b) => Val::Flag(b),
        DefaultValue::Str(s) => Val::Text(s.into()),
        _ => Val::Unset,
    }
}

/// Reads `raw`, the value of `s` found at `source`, by the setting's kind.
fn read(s: &Setting, source: &Source, raw: Raw, values: &Values) -> Result<Val, Error> {
    match s.kind {
        Kind::Ms(_) | Kind::Count | Kind::Number => read_number(s, source, &raw, values).map(Val::Num),
        Kind::Bool => flag(s, source, &raw).map(Val::Flag),
        Kind::Text => text(s, source, raw).map(Val::Text),
        Kind::OneOf(names) => one_of(s, source, raw, names).map(Val::Text),
        Kind::UrlList => url_list(s, source, raw).map(Val::List),
        // Read by their own functions in `special`, never picked here.
        Kind::ConnectionUrl
        | Kind::AddressPart
        | Kind::Ssl
        | Kind::Breaker
        | Kind::JsObject
        | Kind::JsFunction
        | Kind::JsSwitch => Ok(Val::Unset),
    }
}

/// A number of a numeric kind (durations in ms), within the setting's range.
fn read_number(s: &Setting, source: &Source, raw: &Raw, values: &Values) -> Result<f64, Error> {
    let n = match s.kind {
        Kind::Ms(unit) if !matches!(source, Source::Option(_)) => number(s, source, raw, false)? * unit.ms(),
        kind => number(s, source, raw, kind == Kind::Count)?,
    };
    s.range.check(s, n, source, raw, values)?;
    Ok(n)
}

/// A non-negative number; `integer` demands a whole count.
fn number(s: &Setting, source: &Source, raw: &Raw, integer: bool) -> Result<f64, Error> {
    let n = match raw {
        Raw::Num(n) => Some(*n),
        Raw::Text(t) => t.trim().parse::<f64>().ok(),
        Raw::Json(_) => None,
    };
    match n {
        Some(n) if n.is_finite() && n >= 0.0 && (!integer || n.fract() == 0.0) => Ok(n),
        _ => {
            let expected = if integer { "a non-negative integer" } else { "a non-negative number" };
            Err(config_error(s.option, source, raw, expected))
        }
    }
}

/// `true`/`false`, or `"true"`/`"1"`/`"false"`/`"0"` as text.
fn flag(s: &Setting, source: &Source, raw: &Raw) -> Result<bool, Error> {
    match raw {
        Raw::Json(Value::Bool(b)) => Ok(*b),
        Raw::Text(t) if t == "true" || t == "1" => Ok(true),
        Raw::Text(t) if t == "false" || t == "0" => Ok(false),
        _ => Err(config_error(s.option, source, raw, "true or false")),
    }
}

/// A string.
fn text(s: &Setting, source: &Source, raw: Raw) -> Result<String, Error> {
    match raw {
        Raw::Text(t) => Ok(t),
        other => Err(config_error(s.option, source, other, "a string")),
    }
}

/// One of `names`.
fn one_of(s: &Setting, source: &Source, raw: Raw, names: &[&str]) -> Result<String, Error> {
    let t = text(s, source, raw)?;
    if names.contains(&t.as_str()) {
        Ok(t)
    } else {
        Err(config_error(s.option, source, Raw::Text(t), &quoted_choices(names)))
    }
}

/// An array of URL strings, or comma-separated URLs in the environment; each must parse.
fn url_list(s: &Setting, source: &Source, raw: Raw) -> Result<Vec<String>, Error> {
    let urls: Vec<String> = match (source, raw) {
        (_, Raw::Json(Value::Array(items))) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        }
        (Source::Env(_), Raw::Text(t)) => {
            t.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_string).collect()
        }
        (source, raw) => return Err(config_error(s.option, source, raw, "an array of URLs")),
    };
    for u in &urls {
        super::url::parse_url(u, s.option)?;
    }
    Ok(urls)
}

impl Range {
    /// Rejects `n`, the value of `s` read from `raw` at `source`, when out of range.
    fn check(self, s: &Setting, n: f64, source: &Source, raw: &Raw, values: &Values) -> Result<(), Error> {
        match self {
            Range::AtLeast(min) if n < min as f64 => {
                Err(config_error(s.option, source, raw, &format!("at least {min}")))
            }
            Range::AtMost(other) => {
                let (n, max) = (n.round() as u64, values.num(other)?.round() as u64);
                if n > max {
                    return Err(config_error(s.option, source, n, &format!("at most {other}, {max}")));
                }
                Ok(())
            }
            Range::Fraction if n == 0.0 || n > 1.0 => {
                Err(config_error(s.option, source, n, "a fraction above 0 and at most 1, e.g. 0.8"))
            }
            Range::Between(min, max) if n < min as f64 || n > max as f64 => {
                Err(config_error(s.option, source, raw, &format!("from {min} to {max}")))
            }
            Range::WholeSeconds(max) if n % 1000.0 != 0.0 || n > (max * 1000) as f64 => {
                let expected = match source {
                    Source::Option(_) => format!("whole seconds in ms: 0 or a multiple of 1000 up to {}", max * 1000),
                    _ => format!("whole seconds from 0 to {max}"),
                };
                Err(config_error(s.option, source, raw, &expected))
            }
            _ => Ok(()),
        }
    }
}

impl Values {
    /// Removes the value of `option`.
    fn take(&mut self, option: &str) -> Result<Val, Error> {
        self.0.remove(option).ok_or_else(|| Error::Internal(format!("setting {option} was not resolved")))
    }

    /// The number `option` holds.
    pub(super) fn num(&self, option: &str) -> Result<f64, Error> {
        match self.0.get(option) {
            Some(Val::Num(n)) => Ok(*n),
            other => Err(mismatch(option, other)),
        }
    }

    /// The ms (or count) `option` holds, rounded; `None` when unset.
    pub(super) fn opt_ms(&mut self, option: &str) -> Result<Option<u64>, Error> {
        match self.take(option)? {
            Val::Num(n) => Ok(Some(n.round() as u64)),
            Val::Unset => Ok(None),
            other => Err(mismatch(option, Some(&other))),
        }
    }

    /// The ms (or count) `option` holds, rounded.
    pub(super) fn ms(&mut self, option: &str) -> Result<u64, Error> {
        self.opt_ms(option)?.ok_or_else(|| mismatch(option, Some(&Val::Unset)))
    }

    /// The count `option` holds.
    pub(super) fn count(&mut self, option: &str) -> Result<usize, Error> {
        Ok(self.ms(option)? as usize)
    }

    /// The boolean `option` holds.
    pub(super) fn flag(&mut self, option: &str) -> Result<bool, Error> {
        match self.take(option)? {
            Val::Flag(b) => Ok(b),
            other => Err(mismatch(option, Some(&other))),
        }
    }

    /// The string `option` holds, leaving it in place; `None` when unset or not a string.
    pub(super) fn peek_text(&self, option: &str) -> Option<String> {
        match self.0.get(option) {
            Some(Val::Text(t)) => Some(t.clone()),
            _ => None,
        }
    }

    /// The string `option` holds; `None` when unset.
    pub(super) fn opt_text(&mut self, option: &str) -> Result<Option<String>, Error> {
        match self.take(option)? {
            Val::Text(t) => Ok(Some(t)),
            Val::Unset => Ok(None),
            other => Err(mismatch(option, Some(&other))),
        }
    }

    /// The string `option` holds.
    pub(super) fn text(&mut self, option: &str) -> Result<String, Error> {
        self.opt_text(option)?.ok_or_else(|| mismatch(option, Some(&Val::Unset)))
    }

    /// The list `option` holds (empty when unset).
    pub(super) fn list(&mut self, option: &str) -> Result<Vec<String>, Error> {
        match self.take(option)? {
            Val::List(l) => Ok(l),
            Val::Unset => Ok(Vec::new()),
            other => Err(mismatch(option, Some(&other))),
        }
    }

    /// The TLS settings `option` holds.
    pub(super) fn ssl(&mut self, option: &str) -> Result<SslSettings, Error> {
        match self.take(option)? {
            Val::Ssl(ssl) => Ok(ssl),
            other => Err(mismatch(option, Some(&other))),
        }
    }

    /// The circuit breaker `option` holds.
    pub(super) fn breaker(&mut self, option: &str) -> Result<Option<(u32, u64)>, Error> {
        match self.take(option)? {
            Val::Breaker(b) => Ok(b),
            other => Err(mismatch(option, Some(&other))),
        }
    }
}

/// The internal error for a value of another kind than asked (a bug in the table or resolver).
fn mismatch(option: &str, found: Option<&Val>) -> Error {
    Error::Internal(format!("setting {option} resolved to {found:?}, not the kind asked for"))
}
