//! How a `pool.query` statement is served, decided when it is called: alone, leading a convoy,
//! or offered to convoys while it waits (see `convoy.rs`).

use super::convoy::{Answer, Member, Rider};
use super::{Backend, Entered, PoolCore, QueryOptions};
use crate::connection::Manager;
use crate::convert::params::{text_params, TextParam};
use crate::convert::result::ResultText;
use crate::error::Error;
use crate::sql::Shape;
use crate::statement::check_params;
use std::sync::Arc;

/// How a `pool.query` statement is served (see [`PoolCore::route`]).
pub(super) enum Route<M: Backend = Manager> {
    /// Its parameters do not fit its text: nothing is sent.
    Refused(Error),
    /// On a connection of its own.
    Alone { entered: Entered<M>, params: Vec<TextParam>, opts: QueryOptions, shape: Shape },
    /// Leading a convoy (alone when nobody waits).
    Lead { entered: Entered<M>, own: Member },
    /// Offered to convoys while it waits for its turn.
    Ride { entered: Entered<M>, opts: QueryOptions, rider: Arc<Rider>, answered: Answer },
}

/// A `pool.query` statement, its place decided when it was called; [`Ready::run`] serves it.
pub(crate) struct Ready {
    core: Arc<PoolCore>,
    sql: Arc<str>,
    route: Route,
}

impl Ready {
    /// Waits for its turn (if it has not come) and runs it.
    pub(crate) fn run(self) -> impl std::future::Future<Output = Result<ResultText, Error>> + Send + 'static {
        let Ready { core, sql, route } = self;
        async move {
            // Only the wait for a turn is held inline: what follows it is boxed once the turn
            // came, so a statement waiting in line stays small (bursts queue thousands).
            match route {
                Route::Refused(e) => Err(e),
                Route::Alone { entered, params, opts, shape } => {
                    let turn = core.counted_turn(entered, &opts).await?;
                    Box::pin(async move {
                        let mut lease = core.checkout_on(turn, &opts).await?;
                        core.run_leased(&mut lease, &sql, params, &opts, shape).await
                    })
                    .await
                }
                Route::Lead { entered, own } => {
                    let turn = core.counted_turn(entered, &own.opts).await?;
                    Box::pin(async move {
                        let lease = core.checkout_on(turn, &own.opts).await?;
                        core.lead(lease, own).await
                    })
                    .await
                }
                Route::Ride { entered, opts, rider, answered } => core.ride(entered, opts, rider, answered).await,
            }
        }
    }

    /// Its place in the line, when it can wait there with no task (see `untasked.rs`): it
    /// leads or runs alone with no AbortSignal, so only its turn, its deadline or `end()` ends
    /// its wait. A statement offered to convoys also waits to be taken along.
    pub(super) fn untasked_entry(&mut self) -> Option<&mut Entered> {
        match &mut self.route {
            Route::Alone { entered, opts, .. } if opts.abort.is_none() => Some(entered),
            Route::Lead { entered, own } if own.opts.abort.is_none() => Some(entered),
            _ => None,
        }
    }
}

impl PoolCore {
    /// `pool.query`: checks the parameters, checks out a connection and runs the statement.
    ///
    /// What decides the statement's place is done now, when the caller calls (its place in the
    /// waiting line, its offer to convoys); the future returned waits for its turn and runs it.
    /// So statements are served in the order they were called, first come first served.
    pub(crate) fn query(
        self: &Arc<Self>,
        sql: Arc<str>,
        params: Vec<Option<String>>,
        opts: QueryOptions,
    ) -> impl std::future::Future<Output = Result<ResultText, Error>> + Send + 'static {
        self.ready(sql, params, opts).run()
    }

    /// Starts `ready` (made by [`Self::ready`]) for a caller that runs it itself: `start` gets
    /// it at once, or, when it must wait for its turn, when the turn comes (it waits meanwhile
    /// with no task of its own: see `untasked.rs`), or the error that ended its wait
    /// (poolTimeoutMs, `end()`). Call it within the runtime.
    pub(crate) fn start_or_wait(
        self: &Arc<Self>,
        mut ready: Ready,
        start: impl FnOnce(Result<Ready, Error>) + Send + 'static,
    ) {
        match ready.untasked_entry() {
            Some(entered) if !entered.has_turn() => self.wait_untasked(ready, Box::new(start)),
            _ => start(Ok(ready)),
        }
    }

    /// A `pool.query` statement, its place taken now (see [`Self::query`]).
    pub(crate) fn ready(self: &Arc<Self>, sql: Arc<str>, params: Vec<Option<String>>, opts: QueryOptions) -> Ready {
        let route = self.route(&sql, params, opts);
        Ready { core: self.clone(), sql, route }
    }

    /// A statement offered to convoys: while every connection is busy it waits both for its
    /// turn and for a convoy to take it along, whichever comes first; with its turn it claims
    /// itself back before its connection is taken (or opened), so that no checkout is
    /// abandoned halfway.
    pub(super) async fn ride(
        self: &Arc<Self>,
        entered: Entered,
        opts: QueryOptions,
        rider: Arc<Rider>,
        answered: Answer,
    ) -> Result<ResultText, Error> {
        let turn = tokio::select! {
            turn = self.turn_for(entered, &opts) => turn,
            _ = rider.taken() => return Box::pin(super::convoy::answer(answered)).await,
        };
        let Some(own) = self.riders.claim_own(&rider) else {
            // Taken just as its turn came: the turn goes back to the line at once.
            drop(turn);
            return Box::pin(super::convoy::answer(answered)).await;
        };
        let turn = turn.map_err(|e| self.counted_timeout(e))?;
        Box::pin(async move {
            let lease = self.checkout_on(turn, &opts).await?;
            self.lead(lease, own).await
        })
        .await
    }
}

impl<M: Backend> PoolCore<M> {
    /// How a `pool.query` statement will be served, decided when it is called: refused (its
    /// parameters do not fit), on a connection of its own, or as a statement that may share
    /// one (see `src/pool/convoy.rs`): leading a convoy when a turn is free or enough statements are
    /// offered already, else offered to convoys while it waits in the line.
    pub(super) fn route(self: &Arc<Self>, sql: &Arc<str>, params: Vec<Option<String>>, opts: QueryOptions) -> Route<M> {
        let shape = match check_params(sql, params.len()) {
            Ok(shape) => shape,
            Err(e) => return Route::Refused(e),
        };
        if let Some(e) = self.refusal(opts.no_wait) {
            return Route::Refused(e);
        }
        let params = text_params(params);
        let alone = opts.abort.is_some() || opts.settings.is_some();
        if !(self.settings.pipeline_depth > 1 && !alone && shape.data && !shape.several && !shape.session) {
            return Route::Alone { entered: self.enter(false), params, opts, shape };
        }
        let own = Member::new(sql.clone(), params, &opts);
        // Enough are offered to fill every connection's next few convoys: under a burst the
        // rest wait in the line as small as before, and lead convoys when their turn comes.
        // Only while every statement waiting before it is offered too: a convoy serves the
        // statements it takes before any left in the line, so riders are the line's head.
        let enough = 4 * self.limit() * self.settings.pipeline_depth;
        if self.line.has_free_turn() || self.riders.live() >= enough || self.line.solo_waiting() > 0 {
            return Route::Lead { entered: self.enter(false), own };
        }
        let (rider, answered) = self.riders.offer(own);
        Route::Ride { entered: self.enter(true), opts, rider, answered }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::resolve;
    use crate::pool::{PoolCore, QueryOptions};
    use std::collections::HashMap;

    /// Bursts queue thousands of statements: each holds only its wait for a turn until the turn
    /// comes (4.6 KB a task when the whole statement was held inline from the start).
    #[tokio::test]
    async fn a_statement_waiting_for_its_turn_stays_small() {
        let options = serde_json::json!({ "connectionString": "postgres://u@127.0.0.1:9/db" });
        let core = PoolCore::new(resolve(&options, &HashMap::new(), 2).expect("settings")).expect("pool");
        let statement = core.query("SELECT 1".into(), vec![], QueryOptions::default());
        let size = std::mem::size_of_val(&statement);
        assert!(size <= 2000, "a waiting statement holds {size} bytes");
    }
}
