//! `NativeStream`: a statement whose rows JS pulls in batches (`pool.stream`).

use super::guarded;
use crate::convert::result::RowWriter;
use crate::error::Error;
use crate::pool::{Lease, PoolCore, QueryOptions, Steps};
use crate::statement::read_batch;
use napi_derive::napi;
use std::pin::Pin;
use std::sync::Arc;
use tokio_postgres::RowStream;

struct StreamState {
    lease: Option<Lease>,
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
    /// Checks out a connection of `core` and starts the statement. Its abort flag is registered
    /// with `home` (the primary, also for a replica read), which forgets it when the stream
    /// ends; the caller forgets it when the start fails.
    pub(super) async fn open(
        core: Arc<PoolCore>,
        home: Arc<PoolCore>,
        sql: &str,
        params: Vec<Option<String>>,
        opts: QueryOptions,
        abort_id: Option<u32>,
    ) -> Result<Self, Error> {
        let steps = Steps::default();
        let (lease, rows, prepared) = core.open_stream(sql, params, &opts, &steps).await?;
        let writer = RowWriter::new(prepared.stmt.columns(), core.settings.int8, Default::default());
        let state = StreamState { lease: Some(lease), rows: Some(rows), writer, sent_meta: false, steps };
        let state = Arc::new(tokio::sync::Mutex::new(state));
        Ok(NativeStream { sql: sql.to_string(), state, core, home, opts, abort_id })
    }
}

#[napi]
impl NativeStream {
    /// Up to `batch_size` rows as `{"cols":[…],"n":k,"done":bool[,"fields":…,"fix":…]}`.
    #[napi]
    pub async fn next(&self, batch_size: u32) -> napi::Result<String> {
        guarded(Some(&self.sql), async {
            let mut st = self.state.lock().await;
            let st = &mut *st;
            let done = match (st.rows.as_mut(), st.lease.as_ref()) {
                (Some(rows), Some(lease)) => {
                    let cancel = lease.conn.cancel.clone();
                    let batch = read_batch(rows, &mut st.writer, batch_size);
                    match self.core.step(&st.steps, &cancel, &self.opts, batch).await {
                        (Ok(done), _) => done,
                        (Err(e), broken) => {
                            st.rows = None;
                            if let Some(lease) = st.lease.take() {
                                lease.finish(broken || e.spoils_connection());
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

    /// Stops early: the statement is cancelled on the server and its connection closed,
    /// so no unread rows are left on a pooled connection. Idempotent.
    #[napi]
    pub async fn close(&self) -> napi::Result<()> {
        guarded(None, async {
            if let Some(id) = self.abort_id {
                self.home.forget_abort(id);
            }
            let mut st = self.state.lock().await;
            let unfinished = st.rows.take().is_some();
            if let Some(lease) = st.lease.take() {
                if unfinished {
                    // The connection closes anyway: a cancel that fails changes nothing.
                    let _ = lease.conn.cancel.cancel().await;
                }
                lease.finish(unfinished);
            }
            Ok(())
        })
        .await
    }
}
