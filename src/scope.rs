//! What a request scope (`pool.withContext`) adds to its statements on the server: its
//! settings, applied with `set_config(name, value, true)` in the same implicit transaction as
//! each statement (or once after a transaction's BEGIN), so that they last exactly as long as
//! the statement's transaction and no later user of the connection sees them.

use crate::error::Error;

/// A scope's settings as the statement sent just before each of its statements: one
/// `set_config` per setting, the names and values as parameters (never spliced into SQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScopeSettings {
    /// `SELECT set_config($1,$2,true),…`.
    pub query: String,
    /// Name, value, name, value…
    pub params: Vec<String>,
}

impl ScopeSettings {
    /// The settings of `pairs` (name, value, name, value…), their names checked; none when
    /// there are no pairs.
    pub(crate) fn from_pairs(pairs: Vec<String>) -> Result<Option<Self>, Error> {
        if pairs.is_empty() {
            return Ok(None);
        }
        if !pairs.len().is_multiple_of(2) {
            return Err(Error::Params("settings come as name, value pairs".into()));
        }
        for name in pairs.iter().step_by(2) {
            check_name(name)?;
        }
        Ok(Some(ScopeSettings { query: settings_statement(pairs.len() / 2), params: pairs }))
    }

    /// As the driver sends it before a statement.
    pub(crate) fn prelude(&self) -> tokio_postgres::Prelude<'_> {
        tokio_postgres::Prelude { query: &self.query, params: &self.params }
    }
}

/// What a request scope adds to one statement on the wire.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Scoped<'a> {
    /// Its settings, sent just before it.
    pub settings: Option<&'a ScopeSettings>,
    /// The text sent in its place, as an unnamed statement: the statement with a comment that
    /// changes at each call (a traceparent), which must not fill the statement cache. The
    /// statement's own text stays the key its columns are described (and remembered) by.
    pub sent_as: Option<&'a str>,
}

/// `SELECT set_config($1,$2,true),…` for `n` settings (n ≥ 1).
pub(crate) fn settings_statement(n: usize) -> String {
    let calls: Vec<String> = (0..n).map(|i| format!("set_config(${},${},true)", 2 * i + 1, 2 * i + 2)).collect();
    format!("SELECT {}", calls.join(","))
}

/// A setting's name: `[a-z_][a-z0-9_.]*`, as custom options (`app.user_id`) and the server's own
/// are spelled; anything else is refused before anything is sent.
pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.') {
        return Ok(());
    }
    Err(Error::Params(format!(
        "Setting name '{}' is not allowed: names are lower-case letters, digits, '_' and '.', starting with a letter or '_' (e.g. app.user_id)",
        crate::stats::cut_sql(name)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_has_one_call_per_setting() {
        assert_eq!(settings_statement(1), "SELECT set_config($1,$2,true)");
        assert_eq!(settings_statement(2), "SELECT set_config($1,$2,true),set_config($3,$4,true)");
    }

    #[test]
    fn the_statement_is_not_taken_for_a_session_change() {
        // Applied inside a transaction, it ends with it: the connection needs no reset.
        for n in 1..4 {
            assert!(!crate::sql::shape(&settings_statement(n)).session);
        }
    }

    #[test]
    fn names_are_checked() {
        for ok in ["app.user_id", "_x", "work_mem", "a.b.c9"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "App.user", "1x", "app-user", "app.user'; drop", "app user", "é"] {
            assert!(matches!(check_name(bad), Err(Error::Params(_))), "{bad}");
        }
    }

    #[test]
    fn pairs_become_parameters() {
        let s = ScopeSettings::from_pairs(vec!["app.user_id".into(), "42".into()]).unwrap_or(None);
        assert_eq!(s.map(|s| s.params), Some(vec!["app.user_id".to_string(), "42".to_string()]));
        assert_eq!(ScopeSettings::from_pairs(vec![]).ok(), Some(None));
        assert!(ScopeSettings::from_pairs(vec!["a".into()]).is_err());
        assert!(ScopeSettings::from_pairs(vec!["A".into(), "1".into()]).is_err());
    }
}
