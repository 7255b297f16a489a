//! Statements on one connection: the extended protocol with a per-column result format for
//! one statement, the simple protocol for several, and parameter checks before anything is
//! sent. Timeouts, signals and bookkeeping around them are the pool's (`pool.rs`).

use crate::config::Settings;
use crate::connection::{Conn, Prepared};
use crate::convert::params::TextParam;
use crate::convert::result::{ResultText, RowWriter};
use crate::convert::Style;
use crate::error::{from_driver, Error};
use crate::scope::Scoped;
use crate::sql;
use futures_util::{pin_mut, StreamExt};
use postgres_types::Type;
use std::pin::Pin;
use tokio_postgres::{RowStream, SimpleQueryMessage};

/// Sends the statement: a cached named statement, or an unnamed one (pgbouncer, cache 0)
/// whose column types were described first, so each column is asked for in the format it
/// can be read in (in `style`).
pub(crate) async fn start(
    conn: &mut Conn,
    sql: &str,
    params: &[TextParam],
    style: Style,
    scoped: Scoped<'_>,
) -> Result<(RowStream, Prepared), Error> {
    // Never before a transaction-control statement (see `sql::is_transaction_control`).
    let scoped = match scoped.settings {
        Some(_) if sql::is_transaction_control(sql) => Scoped { settings: None, ..scoped },
        _ => scoped,
    };
    if !conn.cache.enabled() || scoped.sent_as.is_some() {
        let described = match conn.described.get(sql) {
            Some(p) => p,
            None => {
                let s = conn.client.describe(sql).await.map_err(|e| from_driver(&e, false))?;
                let p = Prepared::new(s);
                conn.described.insert(sql, p.clone());
                p
            }
        };
        let typed = params.iter().map(|p| (p, Type::UNKNOWN));
        let formats = described.formats_for(style);
        let text = scoped.sent_as.unwrap_or(sql);
        let rows = match scoped.settings {
            None => conn.client.query_typed_raw_with_formats(text, typed, &formats).await,
            Some(s) => conn.client.query_typed_raw_after(&s.prelude(), text, typed, &formats).await,
        }
        .map_err(|e| from_driver(&e, true))?;
        return Ok((rows, described));
    }
    let prepared = prepared(conn, sql).await?;
    let formats = prepared.formats_for(style);
    let sent = match scoped.settings {
        None => conn.client.query_raw_with_formats(&prepared.stmt, params.iter(), &formats).await,
        Some(s) => conn.client.query_raw_after(&s.prelude(), &prepared.stmt, params.iter(), &formats).await,
    };
    match sent {
        Ok(rows) => Ok((rows, prepared)),
        Err(e) => {
            let e = from_driver(&e, true);
            forget_if_stale(conn, sql, &e);
            Err(e)
        }
    }
}

/// The connection's named statement for `sql`, prepared now when it is not cached yet.
pub(crate) async fn prepared(conn: &mut Conn, sql: &str) -> Result<Prepared, Error> {
    if let Some(p) = conn.cache.get(sql) {
        return Ok(p);
    }
    let s = conn.client.prepare(sql).await.map_err(|e| from_driver(&e, false))?;
    let p = Prepared::new(s);
    conn.cache.insert(sql, p.clone());
    Ok(p)
}

/// A schema change invalidated the cached plan (0A000, the statement did not run): it is
/// prepared again next time.
pub(crate) fn forget_if_stale(conn: &mut Conn, sql: &str, e: &Error) {
    if is_stale_plan(e) {
        conn.cache.remove(sql);
    }
}

/// Whether the server refused a cached statement because a schema change invalidated its
/// plan (0A000): it did not run.
pub(crate) fn is_stale_plan(e: &Error) -> bool {
    matches!(e, Error::Server { fields, .. } if fields.code == "0A000")
}

/// Runs a prepared statement on a client that other statements may be using at the same
/// time (their requests go out in order; each has its own Sync, result and error).
pub(crate) async fn execute_prepared(
    client: &tokio_postgres::Client,
    prepared: &Prepared,
    sql: &str,
    params: &[TextParam],
    settings: &Settings,
    style: Style,
) -> Result<ResultText, Error> {
    let rows = client
        .query_raw_with_formats(&prepared.stmt, params.iter(), &prepared.formats_for(style))
        .await
        .map_err(|e| from_driver(&e, true))?;
    read_result(rows, prepared, sql, settings, style).await
}

/// Reads a started statement's rows into its result.
async fn read_result(
    rows: RowStream,
    prepared: &Prepared,
    sql: &str,
    settings: &Settings,
    style: Style,
) -> Result<ResultText, Error> {
    pin_mut!(rows);
    let mut writer = RowWriter::new(prepared.stmt.columns(), settings.int8, style).in_parts();
    while let Some(row) = rows.next().await {
        writer.push_row(&row.map_err(|e| from_driver(&e, true))?);
    }
    Ok(writer.result(&sql::command_of(sql), rows.rows_affected()))
}

/// Runs a statement and returns its result (see [`ResultText`]); text holding `several` statements (and no
/// parameters) runs as `pg` runs it, see [`execute_several`].
pub(crate) async fn execute(
    conn: &mut Conn,
    sql: &str,
    params: &[TextParam],
    settings: &Settings,
    style: Style,
    several: bool,
    scoped: Scoped<'_>,
) -> Result<ResultText, Error> {
    if params.is_empty() && several {
        if scoped.settings.is_some() {
            return Err(several_in_scope());
        }
        return execute_several(conn, scoped.sent_as.unwrap_or(sql), settings, style).await.map(ResultText::whole);
    }
    let (rows, prepared) = start(conn, sql, params, style, scoped).await?;
    read_result(rows, &prepared, sql, settings, style).await
}

/// Several statements in one text, as `pg` runs them: the simple protocol (one implicit
/// transaction), values read the same as in the binary format, and one result per
/// statement (`{"results":[…]}` when there is more than one).
async fn execute_several(conn: &mut Conn, sql: &str, settings: &Settings, style: Style) -> Result<String, Error> {
    let stream = conn.client.simple_query_tagged(sql).await.map_err(|e| from_driver(&e, true))?;
    pin_mut!(stream);
    let (mut results, mut writer, mut tag) = (Vec::new(), None, String::new());
    while let Some(message) = stream.next().await {
        match message.map_err(|e| from_driver(&e, true))? {
            SimpleQueryMessage::RowDescription(columns) => {
                let mut types = Vec::with_capacity(columns.len());
                for c in columns.iter() {
                    types.push(conn.client.get_type(c.type_oid()).await.map_err(|e| from_driver(&e, true))?);
                }
                let names = columns.iter().map(|c| c.name().to_string()).collect();
                writer = Some(RowWriter::for_text(names, types, settings.int8, style));
            }
            SimpleQueryMessage::Row(row) => {
                if let Some(w) = writer.as_mut() {
                    w.push_text_row(&row);
                }
            }
            SimpleQueryMessage::CommandTag(t) => tag = t,
            SimpleQueryMessage::CommandComplete(n) => {
                let mut w = writer.take().unwrap_or_else(|| RowWriter::for_text(vec![], vec![], settings.int8, style));
                let command = std::mem::take(&mut tag);
                let command = command.split(' ').next().unwrap_or_default();
                results.push(w.result(command, Some(n)).json);
            }
            _ => {}
        }
    }
    if results.len() == 1 {
        return Ok(results.pop().unwrap_or_default());
    }
    Ok(format!("{{\"results\":[{}]}}", results.join(",")))
}

/// Text holding several statements cannot carry a scope's settings: the simple protocol takes
/// no parameters, and its statements would run outside the settings' transaction.
pub(crate) fn several_in_scope() -> Error {
    Error::Params(
        "The query holds several statements, which cannot carry the settings of its withContext scope: \
         send them one at a time, or run them in pool.transaction() (the settings apply to the whole transaction)"
            .into(),
    )
}

/// Reads up to `batch` rows of a stream into `writer`; `true` once the stream is done. A batch
/// of 0 reads nothing: the caller wants the columns only (pg's Describe, for a cursor).
pub(crate) async fn read_batch(
    rows: &mut Pin<Box<RowStream>>,
    writer: &mut RowWriter,
    batch: u32,
) -> Result<bool, Error> {
    for _ in 0..batch {
        match rows.next().await {
            Some(Ok(row)) => writer.push_row(&row),
            Some(Err(e)) => return Err(from_driver(&e, true)),
            None => return Ok(true),
        }
    }
    Ok(false)
}

/// Runs a multi-statement script with the simple protocol (no parameters).
pub(crate) async fn execute_script(conn: &mut Conn, script: &str) -> Result<(), Error> {
    conn.client.batch_execute(script).await.map_err(|e| from_driver(&e, true))
}

/// COPY through the connection needs a stream of rows, not a result: it would leave the
/// protocol waiting for data, so it is refused before anything is sent.
pub(crate) fn reject_copy(sql: &str, shape: sql::Shape) -> Result<(), Error> {
    // Most statements: no second look (copy_direction collects the words).
    if !shape.copy {
        return Ok(());
    }
    let (statement, method) = match sql::copy_direction(sql) {
        Some(sql::CopyDirection::In) => ("COPY … FROM STDIN", "copyFrom()"),
        Some(sql::CopyDirection::Out) => ("COPY … TO STDOUT", "copyTo()"),
        None => return Ok(()),
    };
    Err(Error::Params(format!(
        "{statement} cannot run through query() or executeScript(): it streams rows, which these calls do not; \
         use {method} (on the pool, a client or a transaction)"
    )))
}

/// The most parameters one statement can carry (the protocol counts them in 16 bits).
const MAX_PARAMS: usize = 65_535;

/// Refuses, before anything is sent, a statement that is not a COPY in `direction`.
pub(crate) fn check_copy(sql: &str, direction: sql::CopyDirection) -> Result<(), Error> {
    if sql::copy_direction(sql) == Some(direction) {
        return Ok(());
    }
    let wanted = if direction == sql::CopyDirection::In { "COPY … FROM STDIN" } else { "COPY … TO STDOUT" };
    Err(Error::Params(format!("copyFrom/copyTo take a {wanted} statement")))
}

/// Rejects parameters the statement cannot take, before anything is sent; gives the
/// statement's [`sql::Shape`] (found once, used again to choose the protocol).
pub(crate) fn check_params(sql: &str, given: usize) -> Result<sql::Shape, Error> {
    // The protocol counts parameters in 16 bits: the server would close the connection.
    if given > MAX_PARAMS {
        return Err(Error::Params(format!(
            "The query has {given} parameters; PostgreSQL takes at most {MAX_PARAMS} in one statement \
             (insert in batches, or pass an array as one parameter: = ANY($1))"
        )));
    }
    let shape = sql::shape(sql);
    reject_copy(sql, shape)?;
    if given > 0 && shape.several {
        return Err(Error::Params(
            "The query holds several statements, which cannot take parameters: send them one at a \
             time, or use executeScript for a script without parameters"
                .into(),
        ));
    }
    let expected = shape.placeholders;
    if expected != given {
        return Err(Error::Params(format!(
            "The query expects {expected} parameter{} but {given} {} given",
            if expected == 1 { "" } else { "s" },
            if given == 1 { "was" } else { "were" }
        )));
    }
    Ok(shape)
}
