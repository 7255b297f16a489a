//! Several hosts for one pool (libpq's multi-host connection strings): the order new
//! connections try them in, whether a server fits `target_session_attrs`, and where the pool's
//! connections go now, so that a move to another host (a failover) is seen once and counted.

use crate::config::TargetSessionAttrs;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The statement that tells a server's role: in recovery (a standby), and refusing writes.
pub(crate) const ROLE_QUERY: &str = "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')";

/// The same for a session whose statement was just refused: its sessions' default, not the
/// current transaction's (which the caller may have made read-only).
pub(crate) const SESSION_ROLE_QUERY: &str =
    "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')";

/// No connection opened yet.
const NOWHERE: usize = usize::MAX;

/// A server's role as [`ROLE_QUERY`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Role {
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// `transaction_read_only`.
    pub read_only: bool,
}

impl Role {
    /// From the two text columns of [`ROLE_QUERY`].
    pub(crate) fn from_text(in_recovery: &str, read_only: &str) -> Self {
        Role { in_recovery: in_recovery == "t", read_only: read_only == "on" }
    }

    /// How `doctor` and errors name it.
    pub(crate) fn words(self) -> &'static str {
        match (self.in_recovery, self.read_only) {
            (true, _) => "standby",
            (false, true) => "primary, read-only",
            (false, false) => "primary",
        }
    }
}

/// A move of the pool's new connections from one host to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Move {
    /// `host:port` the connections went to before.
    pub from: String,
    /// `host:port` they go to now.
    pub to: String,
}

/// Where a pool's connections go, and the generation of connections still trusted.
#[derive(Default)]
pub(crate) struct Placement {
    /// Index of the host the last connection opened on (`NOWHERE` before the first).
    current: AtomicUsize,
    /// Raised when a server was found no longer primary: connections of older generations
    /// are closed at their next checkout instead of being handed out.
    generation: AtomicU64,
}

/// `getPoolStats().failovers`: the moves of a pool's new connections to another host (kept
/// with the other counters, so they still answer after `end()`).
#[derive(Debug, Default)]
pub(crate) struct Failovers {
    /// How many, and the last one.
    moves: Mutex<(u64, Option<Move>)>,
}

impl Failovers {
    /// Counts `moved`.
    pub(crate) fn record(&self, moved: Move) {
        if let Ok(mut m) = self.moves.lock() {
            m.0 += 1;
            m.1 = Some(moved);
        }
    }

    /// Forgets every move (`resetStats()`).
    pub(crate) fn reset(&self) {
        if let Ok(mut m) = self.moves.lock() {
            *m = (0, None);
        }
    }

    /// `{ count, lastFrom, lastTo }`.
    pub(crate) fn snapshot(&self) -> Value {
        let (count, last) = self.moves.lock().map(|m| m.clone()).unwrap_or_default();
        json!({
            "count": count,
            "lastFrom": last.as_ref().map(|m| m.from.clone()),
            "lastTo": last.as_ref().map(|m| m.to.clone()),
        })
    }
}

impl Placement {
    /// A placement with no connection yet.
    pub(crate) fn new() -> Self {
        Placement { current: AtomicUsize::new(NOWHERE), ..Default::default() }
    }

    /// The generation a connection opened now belongs to.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A server refused a write as read-only: every connection opened so far is suspect.
    pub(crate) fn demote(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A connection opened on host `index` of `hosts`: the move, when the pool's connections
    /// went to another host before (told once, by the first connection on the new host).
    pub(crate) fn arrived(&self, index: usize, hosts: &[(String, u16)]) -> Option<Move> {
        let before = self.current.swap(index, Ordering::AcqRel);
        if before == NOWHERE || before == index {
            return None;
        }
        let name = |i: usize| hosts.get(i).map(|(h, p)| format!("{h}:{p}")).unwrap_or_default();
        Some(Move { from: name(before), to: name(index) })
    }
}

/// The order new connections try `n` hosts in: as given, or shuffled (`random`, seeded by
/// `seed`) as libpq's load_balance_hosts=random does.
pub(crate) fn order(n: usize, random: bool, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if random {
        // Fisher-Yates with a small xorshift: spreading connections needs no cryptography.
        let mut x = seed | 1;
        for i in (1..n).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
    }
    order
}

/// The passes over the hosts: prefer-standby first looks for a standby, then takes any server.
pub(crate) fn passes(target: TargetSessionAttrs) -> &'static [bool] {
    if target == TargetSessionAttrs::PreferStandby {
        &[true, false]
    } else {
        &[true]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetSessionAttrs as T;

    #[test]
    fn each_target_accepts_the_roles_libpq_accepts() {
        let primary = Role { in_recovery: false, read_only: false };
        let standby = Role { in_recovery: true, read_only: true };
        let read_only_primary = Role { in_recovery: false, read_only: true };
        let fits = |t: T, r: Role, strict| t.accepts(r.in_recovery, r.read_only, strict);
        assert!(fits(T::ReadWrite, primary, true) && !fits(T::ReadWrite, standby, true));
        assert!(!fits(T::ReadWrite, read_only_primary, true) && fits(T::Primary, read_only_primary, true));
        assert!(fits(T::ReadOnly, standby, true) && fits(T::ReadOnly, read_only_primary, true));
        assert!(fits(T::Standby, standby, true) && !fits(T::Standby, primary, true));
        assert!(!fits(T::PreferStandby, primary, true) && fits(T::PreferStandby, primary, false));
        assert!(fits(T::Any, standby, true));
        assert_eq!(passes(T::PreferStandby), &[true, false]);
    }

    #[test]
    fn a_move_is_told_once_and_counted() {
        let hosts = vec![("a".to_string(), 1), ("b".to_string(), 2)];
        let p = Placement::new();
        assert_eq!(p.arrived(0, &hosts), None, "the first connection is no move");
        assert_eq!(p.arrived(0, &hosts), None);
        assert_eq!(p.arrived(1, &hosts), Some(Move { from: "a:1".into(), to: "b:2".into() }));
        assert_eq!(p.arrived(1, &hosts), None, "told by the first connection on the new host only");
        let counted = Failovers::default();
        counted.record(Move { from: "a:1".into(), to: "b:2".into() });
        assert_eq!(counted.snapshot(), json!({ "count": 1, "lastFrom": "a:1", "lastTo": "b:2" }));
        let g = p.generation();
        p.demote();
        assert_eq!(p.generation(), g + 1);
    }

    #[test]
    fn random_order_is_a_permutation() {
        assert_eq!(order(3, false, 7), vec![0, 1, 2]);
        let mut seen = std::collections::HashSet::new();
        for seed in 0..64 {
            let mut o = order(4, true, seed);
            seen.insert(o.clone());
            o.sort();
            assert_eq!(o, vec![0, 1, 2, 3]);
        }
        assert!(seen.len() > 4, "different seeds give different orders");
    }
}
