//! Statements that share a connection: a convoy. When every connection is busy, `pool.query`
//! statements wait in the line; the next of them to get a connection takes up to
//! `pipelineDepth - 1` of the others still waiting along, and sends them all in one write.
//! Each keeps its own Sync, so its own result and error, and the answers are read in order.
//! On loopback most of a statement's client cost is its own `send` and the wake-ups around it
//! (docs/BENCHMARKS.md): several statements per write divide that.
//!
//! What changes for a statement in a convoy:
//! - It runs after the statements before it in the convoy, as it would have run after them
//!   on the connection they were waiting for. Its timeout counts from the moment the convoy
//!   took it, across its prepare and its run.
//! - A timeout or `end()` does not send a cancel request while other statements of the
//!   convoy are unanswered (it could stop one of them instead): the statement is abandoned
//!   with its connection, and its outcome is unknown (`maybeCommitted`, `Stopped::Shared`).
//!
//! Only plain statements ride: one statement per text that reads or writes rows and leaves
//! nothing in the session (see `sql::Shape::session`), no AbortSignal, named statements
//! cached on the connection (not behind PgBouncer), outside transactions and held clients.

use super::{with_field, Lease, PoolCore, QueryOptions};
use crate::connection::{Conn, Prepared};
use crate::convert::params::TextParam;
use crate::convert::result::ResultText;
use crate::error::{Error, Interruption};
use crate::sql::Shape;
use crate::statement::{execute_prepared, is_stale_plan, prepared};
use futures_util::future::join_all;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{oneshot, Notify};

/// One statement: what it runs, and since when it waits.
pub(crate) struct Member {
    sql: Arc<str>,
    params: Vec<TextParam>,
    pub(crate) opts: QueryOptions,
    since: Instant,
}

impl Member {
    pub(crate) fn new(sql: Arc<str>, params: Vec<TextParam>, opts: &QueryOptions) -> Self {
        Member { sql, params, opts: opts.clone(), since: Instant::now() }
    }
}

/// What a statement in a convoy gets back.
type Reply = oneshot::Sender<Result<ResultText, Error>>;

/// Where a statement offered to convoys gets its answer if one takes it.
pub(crate) type Answer = oneshot::Receiver<Result<ResultText, Error>>;

/// A statement waiting in the line that a convoy may take along.
pub(crate) struct Rider {
    /// The statement and where its answer goes, until a convoy takes it or the statement
    /// claims itself back (changed only under the queue's lock).
    job: Mutex<Option<(Member, Reply)>>,
    /// Raised when a convoy takes it.
    taken: Notify,
}

impl Rider {
    /// Resolves once a convoy has taken it.
    pub(crate) async fn taken(&self) {
        self.taken.notified().await
    }

    fn take_job(&self) -> Option<(Member, Reply)> {
        self.job.lock().ok()?.take()
    }
}

/// The statements waiting in the line that convoys may take, oldest first.
#[derive(Default)]
pub(crate) struct Riders {
    queue: Mutex<Queue>,
    /// How many queued statements are still waiting, read without the lock.
    live: AtomicUsize,
}

#[derive(Default)]
struct Queue {
    riders: VecDeque<Arc<Rider>>,
    /// How many of them claimed themselves back (left in place until a convoy passes them,
    /// or the queue is compacted).
    stale: usize,
}

impl Queue {
    fn live(&self) -> usize {
        self.riders.len().saturating_sub(self.stale)
    }
}

impl Riders {
    /// Statements queued and still waiting.
    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Offers a waiting statement to convoys; its answer comes on the receiver if one takes it.
    pub(crate) fn offer(&self, member: Member) -> (Arc<Rider>, Answer) {
        let (tx, rx) = oneshot::channel();
        let rider = Arc::new(Rider { job: Mutex::new(Some((member, tx))), taken: Notify::new() });
        if let Ok(mut q) = self.queue.lock() {
            // Mostly claimed back (a burst that ended in timeouts, say): drop those.
            if q.riders.len() >= 64 && q.stale * 2 > q.riders.len() {
                q.riders.retain(|r| r.job.lock().is_ok_and(|j| j.is_some()));
                q.stale = 0;
            }
            q.riders.push_back(rider.clone());
            self.live.store(q.live(), Ordering::Relaxed);
        }
        (rider, rx)
    }

    /// Claims a statement back for its own connection; `None` when a convoy has it.
    pub(crate) fn claim_own(&self, rider: &Rider) -> Option<Member> {
        let mut q = self.queue.lock().ok()?;
        let (member, _) = rider.take_job()?;
        q.stale += 1;
        self.live.store(q.live(), Ordering::Relaxed);
        Some(member)
    }

    /// Takes up to `max` statements still waiting, oldest first.
    fn take(&self, max: usize) -> Vec<(Member, Reply)> {
        let mut out = Vec::new();
        if max == 0 || self.live() == 0 {
            return out;
        }
        let Ok(mut q) = self.queue.lock() else { return out };
        while out.len() < max {
            let Some(rider) = q.riders.pop_front() else { break };
            match rider.take_job() {
                Some(job) => {
                    out.push(job);
                    rider.taken.notify_one();
                }
                None => q.stale = q.stale.saturating_sub(1),
            }
        }
        if q.riders.is_empty() {
            q.riders.shrink_to(64);
            q.stale = 0;
        }
        self.live.store(q.live(), Ordering::Relaxed);
        out
    }
}

impl PoolCore {
    /// Runs `own` on `lease`'s connection, taking waiting statements along when there are any
    /// (the convoy then runs on its own task, which gives the connection back when every
    /// statement in it is answered).
    pub(crate) async fn lead(self: &Arc<Self>, mut lease: Lease, own: Member) -> Result<ResultText, Error> {
        let riders = self.riders.take(self.settings.pipeline_depth.saturating_sub(1));
        if riders.is_empty() {
            return self.run_leased(&mut lease, &own.sql, own.params, &own.opts, Shape::ROWS).await;
        }
        let (tx, rx) = oneshot::channel();
        let mut members = Vec::with_capacity(riders.len() + 1);
        members.push((own, tx));
        members.extend(riders);
        tokio::spawn(self.clone().convoy(lease, members));
        answer(rx).await
    }

    /// The convoy: each statement prepared on the connection (cached, so seldom a round trip),
    /// then all sent together, each answered as soon as it is read. The connection goes back
    /// when this ends; until then it counts as broken, so that a convoy cut short (a panic)
    /// never returns a connection that may still be running a statement.
    async fn convoy(self: Arc<Self>, mut lease: Lease, mut members: Vec<(Member, Reply)>) {
        let conn: &mut Conn = &mut lease.conn;
        conn.broken = true;
        let taken = tokio::time::Instant::now();
        for (member, _) in &mut members {
            member.opts.timed_from = Some(taken);
        }
        let Some(ready) = self.prepare_all(conn, members).await else { return };
        if ready.len() > 1 {
            self.stats.pipelined.fetch_add(ready.len() as u64, Ordering::Relaxed);
        }
        let after = self.send_all(conn, ready).await;
        conn.broken = after.broken;
        for sql in after.stale {
            conn.cache.remove(&sql);
        }
        for Failed { member, reply, out, ms, waited } in after.failovers {
            // A connection given up may still run an abandoned statement: no look at it.
            let out = if conn.broken { out } else { self.failover_check(conn, out).await };
            self.reply(&member, reply, ms, waited, out);
        }
    }

    /// Answers a statement of the convoy: counted in the stats, with its duration, slowness
    /// and wait riding on its result, as `pool.query` answers.
    fn reply(&self, member: &Member, reply: Reply, ms: f64, waited: f64, out: Result<ResultText, Error>) {
        let slow = self.counted(&member.sql, ms, out.as_ref().err());
        let _ = reply.send(self.told(&member.sql, ms, slow, out).map(|r| with_field(r, ",\"waitMs\":", waited)));
    }

    /// Each statement's named statement on `conn`, under its own timeout, which counts from
    /// the moment the convoy took it (only this Parse is in flight, so a cancel stops nothing
    /// else). One refused as it was prepared (a syntax error, say) did not run, and is answered
    /// at once, as is one whose time ran out before it could be sent. `None` once the
    /// connection is lost: the statements not yet sent are answered as never sent. The wait of
    /// those taken along ends here, counted as their checkout's.
    async fn prepare_all(
        &self,
        conn: &mut Conn,
        members: Vec<(Member, Reply)>,
    ) -> Option<Vec<(Member, Reply, Prepared)>> {
        let mut ready = Vec::with_capacity(members.len());
        let cancel = conn.cancel.clone();
        let mut lost = false;
        for (i, (member, reply)) in members.into_iter().enumerate() {
            if i > 0 {
                self.stats.acquire_ms.record(member.since.elapsed().as_secs_f64() * 1000.0);
            }
            if lost {
                let _ = reply.send(Err(not_sent()));
                continue;
            }
            let started = Instant::now();
            let (out, broken) = match self.deadline(&member.opts) {
                // Its time ran out while it waited in the convoy: it is not sent.
                Some((at, timeout_ms)) if at <= tokio::time::Instant::now() => {
                    let why = Interruption::Timeout { timeout_ms };
                    (Err(Error::not_sent(why)), false)
                }
                _ => self.supervise(&cancel, &member.opts, prepared(conn, &member.sql)).await,
            };
            lost |= broken || out.as_ref().is_err_and(Error::spoils_connection) || conn.client.is_closed();
            match out {
                Ok(p) => ready.push((member, reply, p)),
                Err(e) => {
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    let waited = started.duration_since(member.since).as_secs_f64() * 1000.0;
                    self.reply(&member, reply, ms, waited, Err(e));
                }
            }
        }
        if lost {
            for (_, reply, _) in ready {
                let _ = reply.send(Err(not_sent()));
            }
            return None;
        }
        Some(ready)
    }

    /// Sends every statement at once (the connection task writes them in one go) and answers
    /// each as it is read, errors included, but for a possible failover, which needs a look at
    /// the connection (see [`Self::failover_check`]). A statement's duration counts from the
    /// moment they were sent, so it includes the statements before it.
    async fn send_all(&self, conn: &Conn, ready: Vec<(Member, Reply, Prepared)>) -> After {
        let unanswered = AtomicUsize::new(ready.len());
        let (cancel, sent) = (conn.cancel.clone(), Instant::now());
        let runs = ready.into_iter().map(|(member, reply, p)| {
            let (cancel, unanswered) = (&cancel, &unanswered);
            async move {
                let waited = sent.duration_since(member.since).as_secs_f64() * 1000.0;
                let work = async {
                    let (sql, params, style) = (&member.sql, &member.params, member.opts.style);
                    let out = execute_prepared(&conn.client, &p, sql, params, &self.settings, style).await;
                    unanswered.fetch_sub(1, Ordering::AcqRel);
                    out
                };
                let (out, broken, _) = self.supervise_shared(cancel, &member.opts, work, Some(unanswered)).await;
                let ms = sent.elapsed().as_secs_f64() * 1000.0;
                let mut after =
                    After { broken: broken || out.as_ref().is_err_and(Error::spoils_connection), ..After::default() };
                match &out {
                    Err(Error::Server { fields, maybe_committed: false }) if self.may_be_failover(fields) => {
                        after.failovers.push(Failed { member, reply, out, ms, waited });
                        return after;
                    }
                    Err(e) if is_stale_plan(e) => after.stale.push(member.sql.clone()),
                    _ => {}
                }
                self.reply(&member, reply, ms, waited, out);
                after
            }
        });
        join_all(runs).await.into_iter().fold(After::default(), After::join)
    }
}

/// What a convoy leaves to do once every statement is answered.
#[derive(Default)]
struct After {
    /// The connection must not be reused.
    broken: bool,
    /// Statements whose cached plan a schema change invalidated.
    stale: Vec<Arc<str>>,
    /// Statements refused as read-only, told after a look at the connection.
    failovers: Vec<Failed>,
}

impl After {
    fn join(mut self, other: After) -> After {
        self.broken |= other.broken;
        self.stale.extend(other.stale);
        self.failovers.extend(other.failovers);
        self
    }
}

/// A statement of a convoy whose answer waits for the others.
struct Failed {
    member: Member,
    reply: Reply,
    out: Result<ResultText, Error>,
    /// Its duration and its wait for a connection, ms.
    ms: f64,
    waited: f64,
}

/// The error of a statement taken along by a convoy whose connection was lost before it was
/// sent: it did nothing, so it may be retried.
fn not_sent() -> Error {
    Error::ConnectionClosed {
        maybe_committed: false,
        reason: "the connection was lost before this statement was sent".into(),
    }
}

/// The answer of a statement in a convoy. A convoy whose task ended without answering it
/// (it cannot, short of a bug) may have sent it: its outcome is unknown.
pub(crate) async fn answer(rx: oneshot::Receiver<Result<ResultText, Error>>) -> Result<ResultText, Error> {
    rx.await.unwrap_or_else(|_| {
        Err(Error::ConnectionClosed {
            maybe_committed: true,
            reason: "the connection carrying this statement with others was given up before it answered".into(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(sql: &str) -> Member {
        Member::new(sql.into(), Vec::new(), &QueryOptions::default())
    }

    #[test]
    fn a_convoy_takes_the_oldest_statements_not_claimed_back() {
        let riders = Riders::default();
        let (first, _) = riders.offer(member("SELECT 1"));
        let (second, _) = riders.offer(member("SELECT 2"));
        let (_third, _) = riders.offer(member("SELECT 3"));
        assert_eq!(riders.claim_own(&first).map(|m| m.sql.to_string()).as_deref(), Some("SELECT 1"));
        assert_eq!(riders.live(), 2);
        let taken = riders.take(1);
        assert_eq!(taken.iter().map(|(m, _)| &*m.sql).collect::<Vec<_>>(), ["SELECT 2"]);
        assert!(riders.claim_own(&second).is_none(), "a statement a convoy took runs there, not on its own");
        assert_eq!(riders.take(5).len(), 1, "the rest, once");
        assert!(riders.take(5).is_empty());
    }
}
