//! `NativeStream`: a statement whose rows JS pulls in batches (`pool.stream`, a held
//! client's `stream`).

use super::guarded;
use super::hold::Hold;
use crate::convert::result::RowWriter;
use crate::error::Error;
use crate::held::HeldGuard;
use crate::place::Place;
use crate::pool::{Lease, PoolCore, QueryOptions, Steps};
use crate::statement::{check_params, read_batch};
use napi_derive::napi;
use std::pin::Pin;
use std::sync::Arc;
use tokio_postgres::RowStream;

struct StreamState {
    lease: Option<Hold>,
    rows: Option<Pin<Box<RowStream>>>,
    writer: RowWriter,
    sent_meta: bool,
    /// What stopped a step that still succeeded (its cancel's 57014 arrives with later rows).
    steps: Steps,
}

/// A statement whose rows are pulled in batches; memory stays bounded by the batch size
/// because the driver reads the socket only as fast as batches are taken.
#[napi]
pub struct NativeStream {
    sql: String,
    state: Arc<tokio::sync::Mutex<StreamState>>,
    core: Arc<PoolCore>,
    /// The pool its AbortSignal is registered with (the primary, also for a replica read).
    home: Arc<PoolCore>,
    /// The stream's timeout (each wait for a batch) and AbortSignal.
    opts: QueryOptions,
    abort_id: Option<u32>,
}

impl NativeStream {
    /// Starts the statement on `client`'s connection (after its earlier work), or on a new
    /// checkout of `core`. Its abort flag is registered with `home` (the primary, also for a
    /// replica read), which forgets it when the stream ends; the caller forgets it when the
    /// start fails.
    pub(super) async fn open(
        core: Arc<PoolCore>,
        home: Arc<PoolCore>,
        client: Option<Place<HeldGuard<Lease>>>,
        sql: &str,
        params: Vec<Option<String>>,
        opts: QueryOptions,
        abort_id: Option<u32>,
    ) -> Result<Self, Error> {
        check_params(sql, params.len())?;
        let steps = Steps::default();
        let mut hold = Hold::take(&core, client, &opts).await?;
        let started = match hold.lease() {
            Ok(lease) => core.start_stream(&mut lease.conn, sql, params, &opts, &steps).await,
            Err(e) => Err(e),
        };
        let (rows, prepared) = match started {
            Ok(s) => s,
            Err(e) => {
                hold.done(false);
                return Err(e);
            }
        };
        let writer = RowWriter::new(prepared.stmt.columns(), core.settings.int8, opts.style);
        let state = StreamState { lease: Some(hold), rows: Some(rows), writer, sent_meta: false, steps };
        let state = Arc::new(tokio::sync::Mutex::new(state));
        Ok(NativeStream { sql: sql.to_string(), state, core, home, opts, abort_id })
    }
}

/// Reads a cancelled statement's remaining rows (its 57014 included) so its connection is in
/// step again; false when its end does not come within the cancel grace.
async fn read_to_end(rows: &mut Pin<Box<RowStream>>) -> bool {
    use futures_util::StreamExt;
    let drain = async { while let Some(Ok(_)) = rows.next().await {} };
    tokio::time::timeout(crate::cancel::CANCEL_GRACE, drain).await.is_ok()
}

#[napi]
impl NativeStream {
    /// Up to `batch_size` rows as `{"cols":[…],"n":k,"done":bool[,"fields":…,"fix":…]}`.
    #[napi]
    pub async fn next(&self, batch_size: u32) -> napi::Result<String> {
        guarded(Some(&self.sql), async {
            let mut st = self.state.lock().await;
            let st = &mut *st;
            let cancel = st.lease.as_mut().and_then(|h| h.lease().ok()).map(|l| l.conn.cancel.clone());
            let done = match (st.rows.as_mut(), cancel) {
                (Some(rows), Some(cancel)) => {
                    let batch = read_batch(rows, &mut st.writer, batch_size);
                    match self.core.step(&st.steps, &cancel, &self.opts, batch).await {
                        (Ok(done), _) => done,
                        (Err(e), broken) => {
                            st.rows = None;
                            if let Some(hold) = st.lease.take() {
                                hold.done(broken || e.spoils_connection());
                            }
                            return Err(e);
                        }
                    }
                }
                _ => true,
            };
            if done {
                st.rows = None;
                st.lease = None;
                if let Some(id) = self.abort_id {
                    self.home.forget_abort(id);
                }
            }
            let meta = !std::mem::replace(&mut st.sent_meta, true);
            Ok(st.writer.batch_json(&crate::sql::command_of(&self.sql), done, meta))
        })
        .await
    }

    /// Stops early: the statement is cancelled on the server. A checked-out connection is
    /// closed, so no unread rows are left on a pooled connection; a held client's is read to
    /// the end of the cancelled statement and kept (closed if that end does not come within
    /// the cancel grace). Idempotent.
    #[napi]
    pub async fn close(&self) -> napi::Result<()> {
        guarded(None, async {
            if let Some(id) = self.abort_id {
                self.home.forget_abort(id);
            }
            let mut st = self.state.lock().await;
            let rows = st.rows.take();
            let Some(mut hold) = st.lease.take() else { return Ok(()) };
            let spoiled = match (rows, hold.lease()) {
                (None, _) => false,
                (Some(mut rows), Ok(lease)) => {
                    // A cancel that fails changes nothing: the connection is closed then.
                    let cancelled = lease.conn.cancel.cancel().await.is_ok();
                    let client = matches!(hold, Hold::Client(_));
                    !(cancelled && client && read_to_end(&mut rows).await)
                }
                (Some(_), Err(_)) => true,
            };
            hold.done(spoiled);
            Ok(())
        })
        .await
    }
}
