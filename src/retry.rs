//! Backoff delays for `withRetry`, transaction re-runs and connection attempts.

/// How a delay grows between attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    /// Delay before the first retry, ms.
    pub initial_ms: f64,
    /// Growth per retry.
    pub factor: f64,
    /// Upper bound, ms.
    pub max_ms: f64,
    /// Relative jitter: 0.2 spreads each delay over ±20%.
    pub jitter: f64,
}

impl Default for Backoff {
    /// 1 s, 2 s, 4 s, … up to 30 s, ±20%: the backoff of the hand-written retry helpers users replace.
    fn default() -> Self {
        Backoff { initial_ms: 1000.0, factor: 2.0, max_ms: 30_000.0, jitter: 0.2 }
    }
}

impl Backoff {
    /// Connection attempts inside a checkout: 50 ms doubling up to 2 s, no jitter (the wait
    /// is bounded by poolTimeoutMs anyway).
    pub(crate) const CONNECT: Backoff = Backoff { initial_ms: 50.0, factor: 2.0, max_ms: 2000.0, jitter: 0.0 };

    /// `connect()` warming the pool: 100 ms, 200 ms (three tries).
    pub(crate) const WARM_UP: Backoff = Backoff { initial_ms: 100.0, factor: 2.0, max_ms: 30_000.0, jitter: 0.0 };

    /// The delay before retry `retry` (1-based) with the jitter's midpoint: for the pool's
    /// own loops, which have no caller to spread out.
    pub(crate) fn steady(&self, retry: u32) -> std::time::Duration {
        std::time::Duration::from_secs_f64(delay_ms(self, retry, 0.5) / 1000.0)
    }
}

/// The delay before retry number `retry` (1-based): initial × factor^(retry-1), capped at max,
/// then spread by the jitter using `random` in [0, 1).
pub(crate) fn delay_ms(b: &Backoff, retry: u32, random: f64) -> f64 {
    let exp = b.initial_ms * b.factor.powi(retry.saturating_sub(1) as i32);
    let base = if exp.is_finite() { exp.min(b.max_ms) } else { b.max_ms };
    let spread = base * b.jitter.clamp(0.0, 1.0) * (2.0 * random.clamp(0.0, 1.0) - 1.0);
    (base + spread).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_without_jitter() {
        let b = Backoff { jitter: 0.0, ..Backoff::default() };
        assert_eq!(delay_ms(&b, 1, 0.9), 1000.0);
        assert_eq!(delay_ms(&b, 2, 0.1), 2000.0);
        assert_eq!(delay_ms(&b, 3, 0.5), 4000.0);
        assert_eq!(delay_ms(&b, 10, 0.5), 30_000.0);
        assert_eq!(delay_ms(&b, 5000, 0.5), 30_000.0, "overflow caps");
    }

    #[test]
    fn steady_delays_of_the_pool_loops() {
        assert_eq!(Backoff::CONNECT.steady(1).as_millis(), 50);
        assert_eq!(Backoff::CONNECT.steady(7).as_millis(), 2000);
        assert_eq!(Backoff::WARM_UP.steady(2).as_millis(), 200);
    }

    #[test]
    fn jitter_bounds() {
        let b = Backoff::default();
        assert_eq!(delay_ms(&b, 1, 0.0), 800.0);
        assert_eq!(delay_ms(&b, 1, 0.5), 1000.0);
        assert!((delay_ms(&b, 1, 0.999_999) - 1200.0).abs() < 0.01);
    }
}
