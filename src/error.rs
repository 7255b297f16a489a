//! Errors: what went wrong, its code and kind, and the classification rules.
//!
//! Every failure pgwarden can produce is an [`Error`]. It crosses into JavaScript exactly once,
//! at the napi boundary, as a JSON payload (see [`Error::to_payload`]) that `lib/errors.js`
//! turns into a `PgWardenError`. The server's fields are kept whole.

use serde_json::{json, Map, Value};
use std::fmt;
use tokio_postgres::error::Severity;

/// The broad category of a failure, as JavaScript sees it in `err.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The connection could not be made or was lost.
    Connection,
    /// An operation (connect, statement, transaction) ran out of time.
    Timeout,
    /// No pooled connection became free in time (P2024).
    PoolTimeout,
    /// Serialization failure (40001) or a write conflict (P2034).
    Serialization,
    /// Deadlock detected (40P01).
    Deadlock,
    /// The server refused a connection: too many clients (53300).
    TooManyConnections,
    /// The server is shutting down, restarting or starting up (57P0x).
    ServerUnavailable,
    /// An integrity constraint was violated (class 23).
    Constraint,
    /// The statement is malformed or names something that does not exist (class 42).
    Syntax,
    /// Authentication or privilege failure (class 28, 42501).
    Permission,
    /// A value was out of range or malformed for its type (class 22).
    Data,
    /// Invalid pool configuration.
    Config,
    /// Invalid query parameters, rejected before anything was sent.
    Params,
    /// The pool was closed.
    Closed,
    /// The statement was cancelled (57014 not caused by a timeout, or an aborted signal).
    Cancelled,
    /// Anything else.
    Other,
}

impl Kind {
    /// The name JavaScript sees.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Connection => "connection",
            Kind::Timeout => "timeout",
            Kind::PoolTimeout => "pool_timeout",
            Kind::Serialization => "serialization",
            Kind::Deadlock => "deadlock",
            Kind::TooManyConnections => "too_many_connections",
            Kind::ServerUnavailable => "server_unavailable",
            Kind::Constraint => "constraint",
            Kind::Syntax => "syntax",
            Kind::Permission => "permission",
            Kind::Data => "data",
            Kind::Config => "config",
            Kind::Params => "params",
            Kind::Closed => "closed",
            Kind::Cancelled => "cancelled",
            Kind::Other => "other",
        }
    }
}

/// The outcome of classifying an error code: the documented rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Classification {
    /// Whether retrying the same operation is safe and likely to help.
    pub retryable: bool,
    /// The broad category.
    pub kind: Kind,
}

/// Codes that are safe to retry when the statement provably did not commit.
const RETRYABLE: &[&str] = &[
    "P1001",
    "P1002",
    "P1008",
    "P1017",
    "P2024",
    "P2034",
    "40001",
    "40P01",
    "53300",
    "57P01",
    "57P02",
    "57P03",
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "ENOTFOUND",
    "EAI_AGAIN",
    "EPIPE",
];

/// The words of a [`Error::Failover`] message that make its 25006 retryable wherever the
/// error is classified again (JS `classifyError` has only the code and the message).
const NO_LONGER_PRIMARY: &str = "is no longer the primary";

/// Classifies a SQLSTATE, Prisma code or Node system error code.
///
/// `message` refines 57014 (a statement timeout is a 'timeout', anything else 'cancelled').
/// An error whose outcome is unknown (`maybe_committed`) is never retryable.
pub(crate) fn classify(code: Option<&str>, message: &str, maybe_committed: bool) -> Classification {
    let Some(code) = code else {
        return Classification { retryable: false, kind: Kind::Other };
    };
    let class08 = code.len() == 5 && code.starts_with("08");
    let failover = code == "25006" && message.contains(NO_LONGER_PRIMARY);
    let retryable = !maybe_committed && (class08 || failover || RETRYABLE.contains(&code));
    let kind = match code {
        "P1001" | "P1011" | "P1017" | "ECONNREFUSED" | "ECONNRESET" | "ENOTFOUND" | "EAI_AGAIN" | "EPIPE" => {
            Kind::Connection
        }
        "P1002" | "P1008" | "P2028" | "ETIMEDOUT" => Kind::Timeout,
        "P2024" => Kind::PoolTimeout,
        "P2034" | "40001" => Kind::Serialization,
        "40P01" => Kind::Deadlock,
        "53300" | "53400" => Kind::TooManyConnections,
        "57P01" | "57P02" | "57P03" => Kind::ServerUnavailable,
        "25006" if failover => Kind::ServerUnavailable,
        "57014" if message.contains("timeout") => Kind::Timeout,
        "57014" => Kind::Cancelled,
        "42501" => Kind::Permission,
        "ERR_PGWARDEN_CONFIG" => Kind::Config,
        "ERR_PGWARDEN_PARAMS" => Kind::Params,
        "ERR_PGWARDEN_CLOSED" => Kind::Closed,
        _ if class08 => Kind::Connection,
        _ if code.len() == 5 => match &code[..2] {
            "23" => Kind::Constraint,
            "42" => Kind::Syntax,
            "28" => Kind::Permission,
            "22" => Kind::Data,
            _ => Kind::Other,
        },
        _ => Kind::Other,
    };
    Classification { retryable, kind }
}

/// The fields PostgreSQL sends with an error, kept whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ServerError {
    /// SQLSTATE, e.g. "23505".
    pub code: String,
    /// The primary message.
    pub message: String,
    /// ERROR, FATAL, PANIC (localized severity).
    pub severity: String,
    /// Optional secondary message.
    pub detail: Option<String>,
    /// Optional suggestion.
    pub hint: Option<String>,
    /// 1-based character position in the statement.
    pub position: Option<u32>,
    /// Position inside an internally generated statement.
    pub internal_position: Option<u32>,
    /// The internally generated statement.
    pub internal_query: Option<String>,
    /// Call stack context.
    pub r#where: Option<String>,
    /// Schema of the object involved.
    pub schema: Option<String>,
    /// Table of the object involved.
    pub table: Option<String>,
    /// Column of the object involved.
    pub column: Option<String>,
    /// Data type of the object involved.
    pub data_type: Option<String>,
    /// Constraint violated.
    pub constraint: Option<String>,
    /// Source file of the server that raised it.
    pub file: Option<String>,
    /// Source line of the server that raised it.
    pub line: Option<u32>,
    /// Source routine of the server that raised it.
    pub routine: Option<String>,
}

/// What stopped a statement in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interruption {
    /// Its timeout (timeoutMs or the pool's queryTimeoutMs) passed.
    Timeout {
        /// The timeout that elapsed, in ms.
        timeout_ms: u64,
    },
    /// Its AbortSignal fired.
    Abort,
    /// The deadline of its request scope (`withContext`'s `timeoutMs`) passed.
    Deadline {
        /// The scope's timeout, in ms.
        timeout_ms: u64,
    },
    /// The HTTP request it served was closed by its client before the response was sent
    /// (`requestContext`).
    HungUp,
    /// `end()` ran out of time while it was in flight.
    Shutdown,
}

/// What is known of a statement's outcome once it was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// It was never sent.
    NotSent,
    /// The server confirmed the cancel (57014 for this statement): it did not take effect.
    Cancelled,
    /// A cancel request was sent but not confirmed within `grace_ms`: it may still run or have run.
    Unconfirmed {
        /// The cancel grace that ran out (ms).
        grace_ms: u64,
    },
    /// Behind PgBouncer no cancel is sent: it was abandoned with its connection.
    Abandoned,
    /// It shared its connection with statements not yet answered (see `src/pool/convoy.rs`), which
    /// a cancel request could have stopped instead: it was abandoned with its connection.
    Shared,
}

impl Stopped {
    /// Whether the statement may have taken effect.
    pub(crate) fn maybe_committed(self) -> bool {
        matches!(self, Stopped::Unconfirmed { .. } | Stopped::Abandoned | Stopped::Shared)
    }

    /// The outcome, in words for the end of an error message.
    fn words(self) -> String {
        match self {
            Stopped::NotSent => "before the statement was sent".into(),
            Stopped::Cancelled => "the statement was cancelled on the server".into(),
            Stopped::Unconfirmed { grace_ms } => format!(
                "a cancel request was sent but the server did not confirm it within {grace_ms}ms, so the statement may still be running or may have completed (its outcome is unknown); its connection was closed"
            ),
            Stopped::Abandoned => "behind PgBouncer the statement is abandoned with its connection rather than cancelled, so it may still be running or may have completed (its outcome is unknown)".into(),
            Stopped::Shared => "its connection was carrying other statements not yet answered, which a cancel request could have stopped instead, so the statement was abandoned with its connection rather than cancelled: it may still be running or may have completed (its outcome is unknown)".into(),
        }
    }
}

/// Everything that can go wrong in pgwarden.
#[derive(Debug, Clone)]
pub(crate) enum Error {
    /// A configuration value is invalid or missing (ERR_PGWARDEN_CONFIG).
    Config(String),
    /// Query parameters are invalid; nothing was sent (ERR_PGWARDEN_PARAMS).
    Params(String),
    /// The pool (or a client, stream or transaction) was closed (ERR_PGWARDEN_CLOSED).
    Closed(String),
    /// The server answered with an error.
    Server {
        /// All of the server's fields.
        fields: Box<ServerError>,
        /// Whether the statement may have taken effect (set when the connection died with it).
        maybe_committed: bool,
    },
    /// A statement sent with `replica: true` tried to write on a read replica (25006,
    /// read_only_sql_transaction). It is never re-sent to the primary: the caller decides.
    ReplicaWrite {
        /// The replica's `host:port`, never with credentials.
        address: String,
        /// The server's fields (code 25006).
        fields: Box<ServerError>,
    },
    /// A write refused (25006) by a server that is no longer the primary, on a pool whose
    /// target_session_attrs asks for one: it did nothing, so it may be retried; the pool's next
    /// connections go to the current primary.
    Failover {
        /// The old primary's `host:port`, never with credentials.
        address: String,
        /// The server's fields (code 25006).
        fields: Box<ServerError>,
    },
    /// The server could not be reached (P1001).
    Unreachable {
        /// `host:port` tried, never with credentials.
        address: String,
        /// The operating system's reason.
        reason: String,
    },
    /// TLS could not be set up: the certificate was refused or the handshake failed (P1011).
    /// Not retryable: waiting does not change a certificate.
    Tls {
        /// `host:port` tried.
        address: String,
        /// What TLS reported.
        reason: String,
    },
    /// The server was reached but connecting timed out (P1002).
    ConnectTimeout {
        /// `host:port` tried.
        address: String,
    },
    /// A statement was stopped while in flight: by its timeout (P1008), its AbortSignal
    /// (57014) or `end()` (ERR_PGWARDEN_CLOSED). `stopped` says what is known of its outcome.
    Interrupted {
        /// What stopped it.
        why: Interruption,
        /// What is known of its outcome.
        stopped: Stopped,
    },
    /// The connection was closed while in use (P1017).
    ConnectionClosed {
        /// Whether a statement was in flight (its outcome is unknown).
        maybe_committed: bool,
        /// What the driver reported.
        reason: String,
    },
    /// A transaction ran past its timeoutMs and was rolled back (P2028).
    TransactionTimeout {
        /// The timeout that elapsed, in ms.
        timeout_ms: u64,
    },
    /// No pooled connection became free within poolTimeoutMs (P2024).
    PoolTimeout {
        /// The wait that elapsed, in ms.
        timeout_ms: u64,
        /// The pool's connection limit.
        limit: usize,
    },
    /// The pool's `onConnect` hook failed on a new connection, which was closed
    /// (ERR_PGWARDEN_ON_CONNECT).
    ConnectHook {
        /// What the hook threw or rejected with.
        reason: String,
    },
    /// A statement or `acquire()` whose request scope holds a connection of the pool already
    /// found every connection busy: waiting could deadlock, so it was refused at once
    /// (ERR_PGWARDEN_SELF_DEADLOCK).
    WouldWaitHolding {
        /// The pool's connection limit.
        limit: usize,
    },
    /// A caller that would have waited for a connection while the waiting line already held
    /// `maxWaiting` callers: refused at once (P2024, retryable).
    WaitingLineFull {
        /// The pool's maxWaiting.
        max_waiting: usize,
        /// The pool's connection limit now.
        limit: usize,
    },
    /// Something unexpected (a protocol error, an internal failure).
    Internal(String),
}

/// The errors pgwarden raises itself, named once (the napi layer and the core use these).
impl Error {
    /// A statement stopped before it was sent: nothing reached the server.
    pub(crate) fn not_sent(why: Interruption) -> Error {
        Error::Interrupted { why, stopped: Stopped::NotSent }
    }

    /// A call on a pool after `end()`.
    pub(crate) fn pool_ended() -> Error {
        Error::Closed("The pool has been closed (end() was called)".into())
    }

    /// A statement or COPY on a held client after it was released.
    pub(crate) fn client_released() -> Error {
        Error::Closed("The client was released".into())
    }

    /// A read or write on a COPY that has ended.
    pub(crate) fn copy_ended() -> Error {
        Error::Closed("The COPY has ended".into())
    }

    /// A statement on the client lent to `onConnect` after the hook settled.
    pub(crate) fn hook_settled() -> Error {
        Error::Closed("onConnect has settled: its client can no longer run statements".into())
    }

    /// A panic caught at the napi boundary.
    pub(crate) fn panicked() -> Error {
        Error::Internal("internal error (a panic was caught); please report it".into())
    }

    /// A statement submitted before JS installed the completion sink (a bug).
    pub(crate) fn no_completion_sink() -> Error {
        Error::Internal("no completion sink installed".into())
    }

    /// Work submitted where the native runtime is gone (the process is exiting): not started.
    pub(crate) fn no_runtime() -> Error {
        Error::Internal("the native runtime is not running; the statement was not sent".into())
    }

    /// A lock poisoned by a panic elsewhere (`what`: whose).
    pub(crate) fn poisoned(what: &str) -> Error {
        Error::Internal(format!("{what} lock poisoned"))
    }
}

impl Error {
    /// The code JavaScript sees in `err.code`.
    pub(crate) fn code(&self) -> &str {
        match self {
            Error::Config(_) => "ERR_PGWARDEN_CONFIG",
            Error::Params(_) => "ERR_PGWARDEN_PARAMS",
            Error::Closed(_) => "ERR_PGWARDEN_CLOSED",
            Error::Server { fields, .. } | Error::ReplicaWrite { fields, .. } | Error::Failover { fields, .. } => {
                &fields.code
            }
            Error::Unreachable { .. } => "P1001",
            Error::Tls { .. } => "P1011",
            Error::ConnectTimeout { .. } => "P1002",
            Error::Interrupted { why: Interruption::Timeout { .. }, .. } => "P1008",
            Error::Interrupted { why: Interruption::Deadline { .. }, .. } => "P1008",
            Error::Interrupted { why: Interruption::Abort | Interruption::HungUp, .. } => "57014",
            Error::Interrupted { why: Interruption::Shutdown, .. } => "ERR_PGWARDEN_CLOSED",
            Error::ConnectionClosed { .. } => "P1017",
            Error::PoolTimeout { .. } | Error::WaitingLineFull { .. } => "P2024",
            Error::TransactionTimeout { .. } => "P2028",
            Error::ConnectHook { .. } => "ERR_PGWARDEN_ON_CONNECT",
            Error::WouldWaitHolding { .. } => "ERR_PGWARDEN_SELF_DEADLOCK",
            Error::Internal(_) => "ERR_PGWARDEN_INTERNAL",
        }
    }

    /// Whether the statement may have taken effect although it failed.
    pub(crate) fn maybe_committed(&self) -> bool {
        match self {
            Error::Server { maybe_committed, .. } | Error::ConnectionClosed { maybe_committed, .. } => *maybe_committed,
            Error::Interrupted { stopped, .. } => stopped.maybe_committed(),
            _ => false,
        }
    }

    /// Whether the server refused a connection for too many of them (53300, 53400): backpressure,
    /// worth retrying while the caller's wait allows.
    pub(crate) fn is_too_many(&self) -> bool {
        matches!(self.classification().kind, Kind::TooManyConnections)
    }

    /// Whether the server cancelled the statement (57014), confirming it did not take effect.
    pub(crate) fn is_query_canceled(&self) -> bool {
        matches!(self, Error::Server { fields, .. } if fields.code == "57014")
    }

    /// The error a statement stopped earlier by `why` (its timeout, its AbortSignal, `end()`)
    /// ended with: the server's 57014 is then the cancel of that stop, confirmed; any other
    /// error is the statement's own. (A stream's or a COPY's cancel comes with a later read.)
    pub(crate) fn after(self, why: Option<Interruption>) -> Error {
        match why {
            Some(why) if self.is_query_canceled() => Error::Interrupted { why, stopped: Stopped::Cancelled },
            _ => self,
        }
    }

    /// Whether the connection the statement ran on is gone (or may be): it must not be reused.
    pub(crate) fn lost_connection(&self) -> bool {
        self.maybe_committed() || matches!(self, Error::ConnectionClosed { .. })
    }

    /// Whether the connection the error happened on must not be used again: it was lost, or
    /// something the pool does not understand happened on it (a protocol desync), which the
    /// next caller must never inherit.
    pub(crate) fn spoils_connection(&self) -> bool {
        self.lost_connection() || matches!(self, Error::Internal(_))
    }

    /// Kind and retryability, by the rules of [`classify`].
    pub(crate) fn classification(&self) -> Classification {
        classify(Some(self.code()), &self.message(), self.maybe_committed())
    }

    /// A human message in the words Prisma users know. Never contains a password.
    pub(crate) fn message(&self) -> String {
        match self {
            Error::Config(m) | Error::Params(m) | Error::Closed(m) | Error::Internal(m) => m.clone(),
            Error::Server { fields, .. } => fields.message.clone(),
            Error::ReplicaWrite { address, fields } => format!(
                "{}: the statement was sent with replica: true and ran on the read replica at `{address}`, which cannot write; it was not sent to the primary (send writes without replica: true)",
                fields.message
            ),
            Error::Failover { address, fields } => format!(
                "{}: the server at `{address}` {NO_LONGER_PRIMARY} (it refuses writes); the statement did nothing, and the pool's next connections go to the current primary",
                fields.message
            ),
            Error::Unreachable { address, reason } => {
                format!("Can't reach database server at `{address}`: {reason}")
            }
            Error::Tls { address, reason } => format!("Error opening a TLS connection to `{address}`: {reason}"),
            Error::ConnectTimeout { address } => {
                format!("The database server at `{address}` was reached but timed out")
            }
            Error::Interrupted { why, stopped } => {
                let what = match why {
                    Interruption::Timeout { timeout_ms } => format!("Operations timed out after {timeout_ms}ms"),
                    Interruption::Abort => "Query aborted by its AbortSignal".into(),
                    Interruption::Deadline { timeout_ms } => {
                        format!("The deadline of its request scope passed (withContext timeoutMs: {timeout_ms}ms)")
                    }
                    Interruption::HungUp => {
                        "Query aborted: its HTTP request was closed by the client before the response was sent".into()
                    }
                    Interruption::Shutdown => "The pool was ended (end() ran out of time) while the statement was in flight".into(),
                };
                let sep = if *stopped == Stopped::NotSent { " " } else { "; " };
                format!("{what}{sep}{}", stopped.words())
            }
            Error::ConnectionClosed { reason, maybe_committed } => {
                let outcome = if *maybe_committed { " while a statement was in flight (its outcome is unknown)" } else { "" };
                format!("Server has closed the connection{outcome}: {reason}")
            }
            Error::TransactionTimeout { timeout_ms } => format!(
                "Transaction API error: the transaction ran past its timeout of {timeout_ms}ms and was rolled back"
            ),
            Error::ConnectHook { reason } => {
                format!("onConnect failed on a new connection, which was closed: {reason}")
            }
            Error::WouldWaitHolding { limit } => format!(
                "Every connection of the pool (connection limit: {limit}) is busy, and this request scope already holds one of them \
                 (an acquired client or a transaction): waiting for another could deadlock, so this was refused at once and nothing was sent. \
                 Run the statement on the held client or transaction instead"
            ),
            Error::WaitingLineFull { max_waiting, limit } => format!(
                "No connection from the connection pool: every connection is busy and {max_waiting} callers \
                 are already waiting (maxWaiting: {max_waiting}, connection limit: {limit}), so this call was refused at once without waiting; nothing was sent"
            ),
            Error::PoolTimeout { timeout_ms, limit } => format!(
                "Timed out fetching a new connection from the connection pool. (Current connection pool timeout: {}, connection limit: {limit})",
                *timeout_ms as f64 / 1000.0
            ),
        }
    }

    /// The structured payload `lib/errors.js` decodes into a `PgWardenError`.
    pub(crate) fn to_payload(&self, query: Option<&str>) -> Value {
        let class = self.classification();
        let mut obj = Map::new();
        obj.insert("$pgwarden".into(), Value::Bool(true));
        obj.insert("code".into(), self.code().into());
        obj.insert("message".into(), self.message().into());
        obj.insert("kind".into(), class.kind.as_str().into());
        obj.insert("retryable".into(), class.retryable.into());
        obj.insert("maybeCommitted".into(), self.maybe_committed().into());
        if let Some(q) = query {
            obj.insert("query".into(), q.into());
        }
        if let Error::Server { fields, .. } | Error::ReplicaWrite { fields, .. } | Error::Failover { fields, .. } = self
        {
            let f = fields.as_ref();
            let mut put = |k: &str, v: Value| {
                if !v.is_null() {
                    obj.insert(k.into(), v);
                }
            };
            put("severity", json!(f.severity));
            put("detail", json!(f.detail));
            put("hint", json!(f.hint));
            put("position", json!(f.position.map(|p| p.to_string())));
            put("internalPosition", json!(f.internal_position.map(|p| p.to_string())));
            put("internalQuery", json!(f.internal_query));
            put("where", json!(f.r#where));
            put("schema", json!(f.schema));
            put("table", json!(f.table));
            put("column", json!(f.column));
            put("dataType", json!(f.data_type));
            put("constraint", json!(f.constraint));
            put("file", json!(f.file));
            put("line", json!(f.line.map(|p| p.to_string())));
            put("routine", json!(f.routine));
        }
        Value::Object(obj)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for Error {}

impl From<&tokio_postgres::error::DbError> for ServerError {
    fn from(e: &tokio_postgres::error::DbError) -> Self {
        use tokio_postgres::error::ErrorPosition;
        let (position, internal_position, internal_query) = match e.position() {
            Some(ErrorPosition::Original(p)) => (Some(*p), None, None),
            Some(ErrorPosition::Internal { position, query }) => (None, Some(*position), Some(query.clone())),
            None => (None, None, None),
        };
        ServerError {
            code: e.code().code().to_string(),
            message: e.message().to_string(),
            severity: e.severity().to_string(),
            detail: e.detail().map(str::to_string),
            hint: e.hint().map(str::to_string),
            position,
            internal_position,
            internal_query,
            r#where: e.where_().map(str::to_string),
            schema: e.schema().map(str::to_string),
            table: e.table().map(str::to_string),
            column: e.column().map(str::to_string),
            data_type: e.datatype().map(str::to_string),
            constraint: e.constraint().map(str::to_string),
            file: e.file().map(str::to_string),
            line: e.line(),
            routine: e.routine().map(str::to_string),
        }
    }
}

/// Turns a driver error raised while a statement was in flight into an [`Error`].
///
/// `sent` says whether the statement may have reached the server: a connection lost after
/// that point leaves the outcome unknown (`maybeCommitted`).
pub(crate) fn from_driver(e: &tokio_postgres::Error, sent: bool) -> Error {
    if let Some(db) = e.as_db_error() {
        // A FATAL termination (57P01 admin shutdown) mid-statement also leaves the outcome unknown.
        // Only a FATAL one ends the session; RAISE can produce the same codes as plain errors.
        let fatal = matches!(db.code().code(), "57P01" | "57P02" | "57P03")
            && matches!(db.parsed_severity(), Some(Severity::Fatal) | Some(Severity::Panic));
        return Error::Server { fields: Box::new(db.into()), maybe_committed: sent && fatal };
    }
    if e.is_closed() || io_source(e).is_some() {
        let reason = io_source(e).map(|io| io.to_string()).unwrap_or_else(|| "connection closed".into());
        return Error::ConnectionClosed { maybe_committed: sent, reason };
    }
    Error::Internal(format!("driver error: {e}"))
}

/// The I/O error under a driver error, if any.
pub(crate) fn io_source(e: &tokio_postgres::Error) -> Option<&std::io::Error> {
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        src = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_codes_are_retryable() {
        for code in RETRYABLE.iter().chain(["08000", "08001", "08003", "08004", "08006"].iter()) {
            assert!(classify(Some(code), "", false).retryable, "{code}");
            assert!(!classify(Some(code), "", true).retryable, "{code} maybe committed");
        }
    }

    #[test]
    fn non_retryable_codes() {
        for code in ["23505", "42601", "28P01", "3D000", "22P02", "P2028", "57014"] {
            assert!(!classify(Some(code), "", false).retryable, "{code}");
        }
        assert_eq!(classify(None, "", false), Classification { retryable: false, kind: Kind::Other });
    }

    #[test]
    fn kinds() {
        let k = |c: &str| classify(Some(c), "", false).kind;
        assert_eq!(k("23505"), Kind::Constraint);
        assert_eq!(k("42601"), Kind::Syntax);
        assert_eq!(k("42501"), Kind::Permission);
        assert_eq!(k("28P01"), Kind::Permission);
        assert_eq!(k("22003"), Kind::Data);
        assert_eq!(k("40P01"), Kind::Deadlock);
        assert_eq!(k("40001"), Kind::Serialization);
        assert_eq!(k("53300"), Kind::TooManyConnections);
        assert_eq!(k("57P01"), Kind::ServerUnavailable);
        assert_eq!(k("08006"), Kind::Connection);
        assert_eq!(k("P2024"), Kind::PoolTimeout);
        assert_eq!(classify(Some("57014"), "canceling statement due to statement timeout", false).kind, Kind::Timeout);
        assert_eq!(k("57014"), Kind::Cancelled);
    }

    #[test]
    fn a_57014_after_a_stop_is_that_stop_confirmed_and_nothing_else_is() {
        let server = |code: &str| Error::Server {
            fields: Box::new(ServerError { code: code.into(), ..Default::default() }),
            maybe_committed: false,
        };
        let timeout = Interruption::Timeout { timeout_ms: 20 };
        let cancelled = server("57014").after(Some(timeout));
        assert!(matches!(cancelled, Error::Interrupted { why, stopped: Stopped::Cancelled } if why == timeout));
        assert!(!cancelled.maybe_committed());
        assert_eq!(server("57014").after(None).code(), "57014");
        assert_eq!(server("23505").after(Some(Interruption::Abort)).code(), "23505");
    }

    #[test]
    fn payload_keeps_server_fields() {
        let e = Error::Server {
            fields: Box::new(ServerError {
                code: "23505".into(),
                message: "duplicate key".into(),
                severity: "ERROR".into(),
                detail: Some("Key (id)=(1) already exists.".into()),
                constraint: Some("t_pkey".into()),
                position: Some(8),
                ..Default::default()
            }),
            maybe_committed: false,
        };
        let p = e.to_payload(Some("INSERT ..."));
        assert_eq!(p["code"], "23505");
        assert_eq!(p["kind"], "constraint");
        assert_eq!(p["detail"], "Key (id)=(1) already exists.");
        assert_eq!(p["constraint"], "t_pkey");
        assert_eq!(p["position"], "8");
        assert_eq!(p["query"], "INSERT ...");
        assert_eq!(p["retryable"], false);
    }

    #[test]
    fn pool_timeout_message_is_prismas() {
        let e = Error::PoolTimeout { timeout_ms: 10_000, limit: 5 };
        assert!(e.message().contains("Current connection pool timeout: 10, connection limit: 5"));
    }
}
