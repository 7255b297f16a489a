//! Small lexical facts about SQL text, found without a server round trip.
//!
//! Used to reject a wrong parameter count before anything is sent, to send text holding
//! several statements by the simple protocol, and to name the command of a result
//! (`command` in the pg-compatible result shape).

/// What one lexical pass finds in a statement text, skipping string literals, quoted
/// identifiers, dollar-quoted bodies and comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Shape {
    /// The highest `$n` placeholder: `SELECT '$1', $2` needs 2 parameters.
    pub placeholders: usize,
    /// More than one statement: a `;` followed by more than blanks, comments and `;`. Such
    /// text cannot be a prepared statement; `pool.query` runs it with the simple protocol.
    pub several: bool,
    /// The first word is COPY (see [`copy_direction`] for which way it goes).
    pub copy: bool,
    /// The first word reads or writes rows (SELECT, INSERT, UPDATE, DELETE, MERGE, VALUES,
    /// TABLE, WITH): not a command that opens a transaction or changes the session (BEGIN,
    /// SET, LOCK…), so it may share a connection with other callers' statements.
    pub data: bool,
    /// It may change the session beyond its transaction (see [`touches_session`]): the
    /// connection is reset before anyone else gets it.
    pub session: bool,
}

impl Shape {
    /// The shape of a statement that rides in a convoy: one statement that reads or writes
    /// rows and leaves nothing in the session.
    pub(crate) const ROWS: Shape = Shape { placeholders: 0, several: false, copy: false, data: true, session: false };
}

/// First words of statements that read or write rows (see [`Shape::data`]).
const DATA_VERBS: [&[u8]; 8] = [b"select", b"insert", b"update", b"delete", b"merge", b"values", b"table", b"with"];

/// The [`Shape`] of `sql`.
pub(crate) fn shape(sql: &str) -> Shape {
    let b = sql.as_bytes();
    let (mut i, mut ended, mut found) = (0, false, Shape::default());
    let mut first_word = true;
    let mut first_at = None;
    while i < b.len() {
        let c = b[i];
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i = skip_block_comment(b, i);
            continue;
        }
        if c == b';' || c.is_ascii_whitespace() {
            ended |= c == b';';
            i += 1;
            continue;
        }
        found.several |= ended;
        if std::mem::take(&mut first_word) {
            let len = b[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
            let word = &b[i..i + len];
            first_at = Some(i);
            found.copy = word.eq_ignore_ascii_case(b"copy");
            found.data = DATA_VERBS.iter().any(|v| word.eq_ignore_ascii_case(v));
        }
        let preceded_by_ident = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        i = match c {
            b'\'' | b'"' => skip_quoted(b, i, c),
            b'$' if !preceded_by_ident => {
                let digits = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
                if digits > 0 {
                    if let Ok(n) = sql[i + 1..i + 1 + digits].parse::<usize>() {
                        found.placeholders = found.placeholders.max(n);
                    }
                    i + 1 + digits
                } else if let Some(end) = dollar_tag_end(b, i) {
                    find(b, end, &b[i..end]).map(|p| p + end - i).unwrap_or(b.len())
                } else {
                    i + 1
                }
            }
            _ => i + 1,
        };
    }
    found.session = found.several || first_at.is_some_and(|at| touches_session(b, at, found.data));
    found
}

/// First words of statements whose effect outlives their transaction: settings, channels,
/// prepared statements, cursors WITH HOLD, libraries, and code that may do any of these
/// (`DO`, `CALL`). `SET LOCAL`, `SET TRANSACTION`, `SET CONSTRAINTS` and `PREPARE TRANSACTION`
/// end with their transaction and are not counted.
const SESSION_VERBS: [&[u8]; 8] = [b"set", b"reset", b"listen", b"prepare", b"declare", b"load", b"do", b"call"];

/// Names that change the session from inside any statement: session-level advisory locks
/// (`pg_advisory_xact_lock` ends with its transaction and does not match), `set_config`, and
/// the session's temporary schema (`CREATE TABLE pg_temp.t`, `SELECT … INTO pg_temp.t`).
const SESSION_FUNCTIONS: [&[u8]; 3] = [b"advisory_lock", b"set_config", b"pg_temp"];

/// The words of `b` from `at` on, lower-cased (letters, digits and `_`; the rest separates).
fn words_from(b: &[u8], at: usize) -> impl Iterator<Item = Vec<u8>> + '_ {
    b[at..]
        .split(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_lowercase())
}

/// Whether the statement controls a transaction (BEGIN, START TRANSACTION, SET TRANSACTION,
/// COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION): a request scope's
/// settings are never sent before one, where they would take the transaction's snapshot (SET
/// TRANSACTION after them fails) or fail first in an aborted transaction (so would ROLLBACK).
pub(crate) fn is_transaction_control(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() || b[i] == b';' {
            i += 1;
        } else if b[i] == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i = skip_block_comment(b, i);
        } else {
            break;
        }
    }
    let mut words = words_from(b, i);
    let first = words.next().unwrap_or_default();
    let second = words.next().unwrap_or_default();
    match first.as_slice() {
        b"begin" | b"start" | b"commit" | b"end" | b"rollback" | b"abort" | b"savepoint" | b"release" => true,
        b"set" | b"prepare" => second == b"transaction",
        _ => false,
    }
}

/// Whether the text is exactly what a request scope sends to apply its settings inside a
/// transaction, `SELECT set_config($1,$2,true),set_config($3,$4,true)…` (see `src/scope.rs`):
/// settings local to the transaction, which leave nothing in the session.
fn local_settings_only(b: &[u8]) -> bool {
    // The scope's tags may follow as a comment (` /*route='…'*/`).
    let b = match find(b, 0, b" /*") {
        Some(at) if b.ends_with(b"*/") => &b[..at],
        _ => b,
    };
    let Some(mut rest) = b.strip_prefix(b"SELECT ") else { return false };
    let mut n = 1;
    loop {
        let call = format!("set_config(${},${},true)", n, n + 1);
        let Some(after) = rest.strip_prefix(call.as_bytes()) else { return false };
        match after.first() {
            None => return true,
            Some(b',') => rest = &after[1..],
            Some(_) => return false,
        }
        n += 2;
    }
}

/// Whether the statement starting at `at` may leave state in the session: one of
/// [`SESSION_VERBS`] (not its transaction-scoped forms), `CREATE` of a temporary object, or a
/// statement that reads rows (`data`) calling one of [`SESSION_FUNCTIONS`]. Lexical and
/// conservative: a function that changes settings inside is not seen.
fn touches_session(b: &[u8], at: usize, data: bool) -> bool {
    if SESSION_FUNCTIONS.iter().any(|f| contains_ignoring_case(b, f)) && !local_settings_only(b) {
        return true;
    }
    if data {
        // `SELECT … INTO TEMP t` makes a temporary table.
        return into_temp(b);
    }
    let mut words = words_from(b, at);
    let first = words.next().unwrap_or_default();
    let second = words.next().unwrap_or_default();
    match first.as_slice() {
        b"set" => !matches!(second.as_slice(), b"local" | b"transaction" | b"constraints"),
        b"prepare" => second != b"transaction",
        b"create" => {
            // CREATE OR REPLACE TEMP VIEW …
            let second = if second == b"or" { words.nth(1).unwrap_or_default() } else { second };
            let third = words.next().unwrap_or_default();
            matches!(second.as_slice(), b"temp" | b"temporary")
                || (matches!(second.as_slice(), b"local" | b"global")
                    && matches!(third.as_slice(), b"temp" | b"temporary"))
        }
        w => SESSION_VERBS.contains(&w),
    }
}

/// Whether a statement reading rows writes them into a new temporary table
/// (`SELECT … INTO TEMP t`, `INTO TEMPORARY`, `INTO LOCAL TEMP`): one pass over its words, no
/// allocation (it runs for every data statement).
fn into_temp(b: &[u8]) -> bool {
    const AFTER_INTO: [&[u8]; 4] = [b"temp", b"temporary", b"local", b"global"];
    let mut after_into = false;
    for w in b.split(|c| !(c.is_ascii_alphanumeric() || *c == b'_')).filter(|w| !w.is_empty()) {
        if after_into && AFTER_INTO.iter().any(|k| w.eq_ignore_ascii_case(k)) {
            return true;
        }
        after_into = w.eq_ignore_ascii_case(b"into");
    }
    false
}

/// Whether `sql` is a `PREPARE` of a named statement (not `PREPARE TRANSACTION`): a name that
/// the session reset cannot drop alone (`DEALLOCATE ALL` would drop the pool's own statements).
pub(crate) fn prepares_by_name(sql: &str) -> bool {
    let words = top_level_words(sql);
    let mut words = words.iter().map(|w| w.to_ascii_lowercase());
    words.next().as_deref() == Some("prepare") && words.next().as_deref() != Some("transaction")
}

/// Whether `needle` (lowercase, holding a `_`) occurs in `hay`, ignoring ASCII case: looked
/// for only around each `_` of `hay`, since most statements have few.
fn contains_ignoring_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some(k) = needle.iter().position(|c| *c == b'_') else { return false };
    hay.iter()
        .enumerate()
        .filter(|(_, c)| **c == b'_')
        .any(|(p, _)| p >= k && hay.get(p - k..p - k + needle.len()).is_some_and(|w| w.eq_ignore_ascii_case(needle)))
}

/// Which way a `COPY … FROM STDIN` / `COPY … TO STDOUT` moves data; `None` for any other
/// statement (a COPY to or from a server-side file included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CopyDirection {
    /// `COPY … FROM STDIN`: the client sends rows.
    In,
    /// `COPY … TO STDOUT`: the server sends rows.
    Out,
}

/// The [`CopyDirection`] of `sql` if it is a COPY through the connection.
pub(crate) fn copy_direction(sql: &str) -> Option<CopyDirection> {
    let words = top_level_words(sql);
    if !words.first().is_some_and(|w| w.eq_ignore_ascii_case("COPY")) {
        return None;
    }
    let has = |name: &str| words.iter().any(|w| w.eq_ignore_ascii_case(name));
    match (has("STDIN"), has("STDOUT")) {
        (true, _) => Some(CopyDirection::In),
        (_, true) => Some(CopyDirection::Out),
        _ => None,
    }
}

/// The command tag a `pg` user expects in `result.command` (SELECT, INSERT, ...).
pub(crate) fn command_of(sql: &str) -> String {
    let words = top_level_words(sql);
    let is = |w: &str, name: &str| w.eq_ignore_ascii_case(name);
    let mut first = words.first().copied().unwrap_or_default();
    if is(first, "WITH") {
        // WITH ... the main statement is the first data verb outside the CTE bodies.
        const VERBS: [&str; 6] = ["SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES"];
        if let Some(w) = words.iter().skip(1).find(|w| VERBS.iter().any(|v| is(w, v))) {
            first = w;
        }
    }
    if is(first, "VALUES") || is(first, "TABLE") {
        return "SELECT".into();
    }
    first.to_ascii_uppercase()
}

/// The words at the shallowest parenthesis depth (so `(SELECT 1)` still names SELECT).
fn top_level_words(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let (mut i, mut depth, mut words) = (0, 0i32, Vec::new());
    let mut top = i32::MAX;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' || c == b'"' {
            i = skip_quoted(b, i, c);
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i = skip_block_comment(b, i);
        } else if c == b'(' {
            depth += 1;
            i += 1;
        } else if c == b')' {
            depth -= 1;
            i += 1;
        } else if c.is_ascii_alphabetic() {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if depth < top {
                top = depth;
                words.clear();
            }
            if depth == top && words.len() < 64 {
                words.push(&sql[s..i]);
            }
        } else {
            i += 1;
        }
    }
    words
}

fn skip_quoted(b: &[u8], start: usize, q: u8) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        // E'...' strings allow backslash escapes.
        if b[i] == b'\\' && q == b'\'' && start > 0 && matches!(b[start - 1], b'e' | b'E') {
            i += 2;
            continue;
        }
        i += 1;
    }
    b.len()
}

fn skip_block_comment(b: &[u8], start: usize) -> usize {
    let (mut i, mut depth) = (start + 2, 1);
    while i < b.len() && depth > 0 {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    i
}

/// If a dollar-quote tag (`$$` or `$tag$`) starts at `i`, the index just past it.
fn dollar_tag_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    (b.get(j) == Some(&b'$') && !b.get(i + 1).is_some_and(u8::is_ascii_digit)).then_some(j + 1)
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_is_told_apart() {
        for sql in [
            "BEGIN",
            " begin isolation level serializable",
            "START TRANSACTION",
            "/* c */ COMMIT",
            "end",
            "ROLLBACK TO SAVEPOINT a",
            "abort",
            "SAVEPOINT a",
            "RELEASE SAVEPOINT a",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "PREPARE TRANSACTION 'x'",
        ] {
            assert!(is_transaction_control(sql), "{sql}");
        }
        for sql in [
            "SELECT 1",
            "SET work_mem = '4MB'",
            "PREPARE p AS SELECT 1",
            "INSERT INTO begin VALUES (1)",
            "-- BEGIN\nSELECT 1",
        ] {
            assert!(!is_transaction_control(sql), "{sql}");
        }
    }

    #[test]
    fn counts_placeholders() {
        assert_eq!(shape("SELECT 1").placeholders, 0);
        assert_eq!(shape("SELECT $1, $2").placeholders, 2);
        assert_eq!(shape("SELECT $2").placeholders, 2);
        assert_eq!(shape("SELECT '$1', $1").placeholders, 1);
        assert_eq!(shape("SELECT \"$3\" FROM t WHERE a = $1").placeholders, 1);
        assert_eq!(shape("SELECT $$ $5 $$, $1").placeholders, 1);
        assert_eq!(shape("SELECT $fn$ $5 $fn$ || $2").placeholders, 2);
        assert_eq!(shape("SELECT 1 -- $4\n, $1").placeholders, 1);
        assert_eq!(shape("SELECT /* $4 /* $5 */ */ $1").placeholders, 1);
        assert_eq!(shape("SELECT E'it\\'s $3', $1").placeholders, 1);
        assert_eq!(shape("SELECT $10").placeholders, 10);
    }

    #[test]
    fn several_statements() {
        assert!(!shape("SELECT 1").several);
        assert!(!shape("SELECT 1;").several);
        assert!(!shape("SELECT 1; -- done\n ;  /* c */ ").several);
        assert!(!shape("SELECT ';x', \"a;b\", $$ ; $$, $f$;SELECT$f$").several);
        assert!(!shape("SELECT E'\\';x'").several);
        assert!(!shape("SELECT 1 -- ; SELECT 2").several);
        assert!(shape("SELECT 1; SELECT 2").several);
        assert!(shape("SELECT 1;SELECT 2;").several);
        assert!(shape("SELECT $$;$$; SELECT 2").several);
        assert!(shape("SELECT 1; 'x'").several);
        assert!(shape(" -- load\n copy t FROM STDIN").copy);
        assert!(!shape("SELECT 'COPY'").copy);
        assert!(!shape("copying").copy);
    }

    #[test]
    fn statements_that_read_or_write_rows() {
        for sql in [
            "SELECT 1",
            " -- q\n insert into t values (1)",
            "UPDATE t SET a = 1",
            "delete from t",
            "MERGE INTO t",
            "VALUES (1)",
            "TABLE t",
            "WITH x AS (SELECT 1) SELECT * FROM x",
        ] {
            assert!(shape(sql).data, "{sql}");
        }
        for sql in [
            "BEGIN",
            "SET search_path = x",
            "set role r",
            "LOCK t",
            "COMMIT",
            "selection",
            "(SELECT 1)",
            "COPY t TO STDOUT",
            "CALL p()",
        ] {
            assert!(!shape(sql).data, "{sql}");
        }
    }

    #[test]
    fn copy_through_the_connection() {
        assert_eq!(copy_direction("COPY t FROM STDIN WITH (FORMAT csv)"), Some(CopyDirection::In));
        assert_eq!(copy_direction("copy (SELECT 1) to stdout"), Some(CopyDirection::Out));
        assert_eq!(copy_direction("COPY t FROM '/tmp/file.csv'"), None);
        assert_eq!(copy_direction("SELECT 'COPY t FROM STDIN'"), None);
    }

    #[test]
    fn commands() {
        assert_eq!(command_of("select 1"), "SELECT");
        assert_eq!(command_of("  -- hi\n insert into t values (1)"), "INSERT");
        assert_eq!(command_of("WITH x AS (SELECT 1) UPDATE t SET a = 1"), "UPDATE");
        assert_eq!(command_of("with x as (delete from t returning *) select * from x"), "SELECT");
        assert_eq!(command_of("(SELECT 1)"), "SELECT");
        assert_eq!(command_of("VALUES (1)"), "SELECT");
        assert_eq!(command_of("create table t (a int)"), "CREATE");
    }

    #[test]
    fn finds_statements_that_change_the_session() {
        let session = |sql: &str| shape(sql).session;
        for sql in [
            "SET statement_timeout = 5",
            "set search_path to x",
            "SET SESSION AUTHORIZATION bob",
            "SET ROLE bob",
            "RESET ALL",
            "LISTEN ch",
            "PREPARE p AS SELECT 1",
            "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
            "CREATE TEMP TABLE t (a int)",
            "create temporary view v as select 1",
            "CREATE LOCAL TEMPORARY TABLE t (a int)",
            "LOAD 'auto_explain'",
            "DO $$ BEGIN PERFORM 1; END $$",
            "CALL p()",
            "SELECT pg_advisory_lock(1)",
            "SELECT PG_TRY_ADVISORY_LOCK_SHARED(1)",
            "select set_config('app.x', '1', false)",
            "SELECT set_config($1,$2,false)",
            "SELECT set_config($1,$2,true),set_config($3,$4,false)",
            "SELECT set_config($1,$2,true), pg_advisory_lock(1)",
            "SELECT 1; SELECT 2",
            "/* c */ SET x = 1",
            "CREATE OR REPLACE TEMP VIEW v AS SELECT 1",
            "CREATE TABLE pg_temp.t (a int)",
            "SELECT 1 AS a INTO TEMP t",
            "select * into temporary table t from x",
        ] {
            assert!(session(sql), "{sql}");
        }
        for sql in [
            "SELECT 1",
            "INSERT INTO t VALUES (1)",
            "SET LOCAL statement_timeout = 5",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SET CONSTRAINTS ALL DEFERRED",
            "PREPARE TRANSACTION 'x'",
            "BEGIN",
            "COMMIT",
            "CREATE TABLE t (a int)",
            "SELECT pg_advisory_xact_lock(1)",
            "SELECT my_column FROM t",
            "LOCK TABLE t",
            "SELECT * INTO t FROM x",
            "INSERT INTO t VALUES (1)",
            // What a request scope sends after BEGIN (src/scope.rs), with its tags or not.
            "SELECT set_config($1,$2,true)",
            "SELECT set_config($1,$2,true) /*route='%2Fr'*/",
            "SELECT set_config($1,$2,true),set_config($3,$4,true)",
        ] {
            assert!(!session(sql), "{sql}");
        }
    }
}
