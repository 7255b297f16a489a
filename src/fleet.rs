//! A fleet's connection budget (`connectionLimit: 'auto'` with `fleet`): instances of one fleet
//! find each other through the database (each holds a beacon connection named for the fleet,
//! see `lib/fleet.js`) and each takes an equal share of the budget. The arithmetic lives here.

/// The share of the server's client slots a fleet takes by default.
pub(crate) const DEFAULT_HEADROOM: f64 = 0.8;

/// What the server says a fleet's budget is built from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ServerLimits {
    /// `max_connections`.
    pub max_connections: u32,
    /// `superuser_reserved_connections` plus `reserved_connections` (PostgreSQL 16).
    pub reserved: u32,
    /// The role's `rolconnlimit` (-1: none).
    pub role_limit: i32,
}

/// The fleet's budget: `given` when set (through PgBouncer it is the bouncer's pool size, which
/// the server cannot tell), else the server's client slots or the role's connection limit,
/// whichever is smaller, times `headroom`; at least 1.
pub(crate) fn budget(given: Option<u32>, server: ServerLimits, headroom: f64) -> u32 {
    if let Some(b) = given {
        return b.max(1);
    }
    let slots = server.max_connections.saturating_sub(server.reserved);
    let slots = if server.role_limit >= 0 { slots.min(server.role_limit as u32) } else { slots };
    ((slots as f64 * headroom).floor() as u32).max(1)
}

/// One instance's share of `budget` among `instances` (itself counted): an equal part (0 when
/// the budget is smaller than the fleet).
pub(crate) fn share(budget: u32, instances: u32) -> u32 {
    budget / instances.max(1)
}

/// Its pool's limit: its share less its beacon, at least 1.
pub(crate) fn pool_limit(budget: u32, instances: u32) -> u32 {
    share(budget, instances).saturating_sub(1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: ServerLimits = ServerLimits { max_connections: 40, reserved: 3, role_limit: -1 };

    #[test]
    fn the_budget_is_the_slots_times_the_headroom_or_the_given_one() {
        assert_eq!(budget(None, SERVER, 0.8), 29); // (40 - 3) × 0.8
        assert_eq!(budget(Some(12), SERVER, 0.8), 12);
        assert_eq!(budget(None, ServerLimits { role_limit: 10, ..SERVER }, 0.8), 8);
        assert_eq!(budget(None, ServerLimits { max_connections: 1, reserved: 3, role_limit: -1 }, 0.8), 1);
    }

    #[test]
    fn each_instance_takes_an_equal_share_less_its_beacon() {
        assert_eq!(pool_limit(30, 3), 9);
        assert_eq!(pool_limit(30, 2), 14);
        assert_eq!(pool_limit(30, 0), 29);
        assert_eq!(pool_limit(3, 10), 1);
    }
}
