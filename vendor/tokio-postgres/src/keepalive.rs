use socket2::TcpKeepalive;
use std::time::Duration;

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct KeepaliveConfig {
    pub idle: Duration,
    pub interval: Option<Duration>,
    pub retries: Option<u32>,
}

impl From<&KeepaliveConfig> for TcpKeepalive {
    fn from(keepalive_config: &KeepaliveConfig) -> Self {
        let mut tcp_keepalive = Self::new();

        // pgwarden fork: a zero idle time leaves the system's own, as libpq documents
        // `keepalives_idle=0` (upstream passes 0 to TCP_KEEPIDLE, which Linux refuses with
        // EINVAL, failing the connect). Windows sets idle time and interval in one call, with no
        // "leave it as it is": its documented defaults stand in there, as libpq's do (2 h, 1 s).
        if !keepalive_config.idle.is_zero() {
            tcp_keepalive = tcp_keepalive.with_time(keepalive_config.idle);
        } else if cfg!(windows) {
            tcp_keepalive = tcp_keepalive.with_time(Duration::from_secs(2 * 60 * 60));
        }

        #[cfg(not(any(
            target_os = "aix",
            target_os = "redox",
            target_os = "solaris",
            target_os = "openbsd"
        )))]
        if let Some(interval) = keepalive_config.interval {
            tcp_keepalive = tcp_keepalive.with_interval(interval);
        } else if cfg!(windows) {
            // pgwarden fork: upstream sends an interval of 0 ms when none is set.
            tcp_keepalive = tcp_keepalive.with_interval(Duration::from_secs(1));
        }

        #[cfg(not(any(
            target_os = "aix",
            target_os = "redox",
            target_os = "solaris",
            target_os = "windows",
            target_os = "openbsd"
        )))]
        if let Some(retries) = keepalive_config.retries {
            tcp_keepalive = tcp_keepalive.with_retries(retries);
        }

        tcp_keepalive
    }
}
