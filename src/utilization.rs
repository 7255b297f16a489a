//! Utilization: connections checked out as a share of the pool's limit. One computation for
//! `getPoolStats()`, the Prometheus gauge, the `highUtilization` alarm and `healthCheck`'s
//! busy verdict, so they never disagree at the edge of the band.

/// Connections checked out as a share of `limit` (0 to 1; 0 for a limit of 0).
pub(crate) fn ratio(active: usize, limit: usize) -> f64 {
    if limit == 0 {
        0.0
    } else {
        active as f64 / limit as f64
    }
}

/// [`ratio`] as a percentage to one decimal (`getPoolStats().pool.utilization`).
pub(crate) fn percent(active: usize, limit: usize) -> f64 {
    (ratio(active, limit) * 1000.0).round() / 10.0
}

/// Whether the pool is busy: at or over `threshold` (utilizationAlertThreshold, 0 to 1).
pub(crate) fn is_busy(active: usize, limit: usize, threshold: f64) -> bool {
    limit > 0 && ratio(active, limit) >= threshold
}

/// Why the pool counts as busy (`healthCheck`'s reason), when it does.
pub(crate) fn busy_reason(active: usize, limit: usize, threshold: f64) -> Option<String> {
    is_busy(active, limit, threshold)
        .then(|| format!("pool utilization {}% ≥ {}%", percent(active, limit), threshold * 100.0))
}

/// Whether the pool has come back down far enough (10 points under `threshold`) for the alarm
/// to fire again on the next crossing.
pub(crate) fn is_calm(active: usize, limit: usize, threshold: f64) -> bool {
    ratio(active, limit) <= threshold - 0.10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_and_its_rounding() {
        assert_eq!(percent(1, 3), 33.3);
        assert_eq!(percent(0, 0), 0.0);
        assert!(is_busy(8, 10, 0.8) && !is_busy(7, 10, 0.8) && !is_busy(0, 0, 0.0));
        assert!(is_calm(7, 10, 0.8) && !is_calm(71, 100, 0.8));
    }
}
