//! A write refused as read-only on a pool meant for the primary: a failover, when the server
//! as a whole no longer fits target_session_attrs.

use super::PoolCore;
use crate::connection::Conn;
use crate::error::Error;

/// read_only_sql_transaction: a write refused by a server that does not accept writes.
const READ_ONLY_TRANSACTION: &str = "25006";

/// The server routine that refuses a command in a read-only transaction, before running it.
const REFUSED_AS_READ_ONLY: &str = "PreventCommandIfReadOnly";

impl PoolCore {
    /// Whether a server error is one [`Self::failover_check`] must look at: the server's own
    /// refusal of the statement as read-only, on a pool meant for the primary.
    pub(crate) fn may_be_failover(&self, f: &crate::error::ServerError) -> bool {
        self.settings.target_session_attrs.wants_primary()
            && f.code == READ_ONLY_TRANSACTION
            && f.routine.as_deref() == Some(REFUSED_AS_READ_ONLY)
            && f.r#where.is_none()
    }

    /// A write refused as read-only (25006) on a pool meant for the primary, when its server
    /// is no longer one (a failover): the connection is closed, every connection opened before
    /// is closed at its next checkout, and the error says the statement did nothing.
    ///
    /// Only the server's own refusal of the statement itself counts (PreventCommandIfReadOnly,
    /// no context: not a function, a procedure, dblink or a foreign table, whose earlier work
    /// may have been done), and only when the server as a whole no longer fits the pool's
    /// target_session_attrs. A transaction the caller made read-only stays a plain 25006.
    pub(crate) async fn failover_check<T>(&self, conn: &mut Conn, out: Result<T, Error>) -> Result<T, Error> {
        let fields = match out {
            Err(Error::Server { fields, maybe_committed: false }) if self.may_be_failover(&fields) => fields,
            other => return other,
        };
        let target = self.settings.target_session_attrs;
        match self.pool.manager().session_role(conn).await {
            Some(role) if !target.accepts(role.in_recovery, role.read_only, true) => {
                conn.broken = true;
                self.pool.manager().placement.demote();
                tracing::warn!(
                    pool = self.id,
                    "the server at {} refused a write as read-only: it is no longer the primary ({}); reconnecting",
                    conn.address,
                    role.words()
                );
                Err(Error::Failover { address: conn.address.to_string(), fields })
            }
            _ => Err(Error::Server { fields, maybe_committed: false }),
        }
    }
}
