//! `NativeSetupClient`, the native half of the client the pool's `onConnect` hook gets: a new
//! connection lent to the hook before it serves anyone.

use super::guarded;
use crate::config::Settings;
use crate::connection::Lent;
use crate::convert::params::text_params;
use crate::convert::Style;
use crate::error::Error;
use crate::statement::{check_params, execute};
use napi::bindgen_prelude::{Buffer, Either, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use std::sync::Arc;

/// A new connection, lent to `onConnect` until the hook settles.
#[napi]
pub struct NativeSetupClient {
    lent: Lent,
    settings: Arc<Settings>,
}

impl NativeSetupClient {
    /// Lends `lent` to JS.
    pub(super) fn new(lent: Lent, settings: Arc<Settings>) -> Self {
        NativeSetupClient { lent, settings }
    }
}

#[napi]
impl NativeSetupClient {
    /// Runs one statement on the new connection, after those issued before it; resolves to
    /// the result's parts (`[result, ...row parts]`, as completions carry them).
    #[napi(ts_return_type = "Promise<Array<string | Buffer>>")]
    pub fn query<'env>(
        &self,
        env: &'env Env,
        sql: String,
        params: Vec<Option<String>>,
    ) -> napi::Result<PromiseRaw<'env, Vec<Either<String, Buffer>>>> {
        let place = self.lent.place();
        let settings = self.settings.clone();
        env.spawn_future(async move {
            let run = async {
                let shape = check_params(&sql, params.len())?;
                let mut guard = place.turn().await;
                let conn = guard.as_mut().ok_or_else(Error::hook_settled)?;
                // Anything but a plain read or write may set what a reset would undo.
                conn.set_up_by_hook |= !shape.data || shape.session;
                let out =
                    execute(conn, &sql, &text_params(params), &settings, Style::Pg, shape.several, Default::default())
                        .await;
                conn.broken |= out.as_ref().is_err_and(Error::spoils_connection);
                out.map(|r| {
                    std::iter::once(Either::A(r.json)).chain(r.parts.into_iter().map(super::part_for_js)).collect()
                })
            };
            guarded(Some(&sql), run).await
        })
    }
}
