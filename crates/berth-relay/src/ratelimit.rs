//! Per-client-address rate limiting of the public endpoint: a token bucket per address
//! (`rate` requests per minute, bursts up to `rate`), forgotten once full again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept before idle ones are swept.
const SWEEP_AT: usize = 10_000;

pub struct RateLimit {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimit {
    /// `per_minute == 0` turns limiting off.
    pub fn new(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes a token for `ip`; `Err(seconds)` until one is available again.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec < capacity
            });
        }
        let (tokens, at) = buckets.entry(ip).or_insert((capacity, now));
        *tokens =
            (*tokens + now.saturating_duration_since(*at).as_secs_f64() * per_sec).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_sec).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_up_to_the_rate_then_refills() {
        let limit = RateLimit::new(60);
        let ip: IpAddr = [203, 0, 113, 7].into();
        let other: IpAddr = [203, 0, 113, 8].into();
        let t0 = Instant::now();
        for _ in 0..60 {
            assert_eq!(limit.check(ip, t0), Ok(()));
        }
        assert_eq!(limit.check(ip, t0), Err(1));
        assert_eq!(
            limit.check(other, t0),
            Ok(()),
            "addresses are limited apart"
        );
        assert_eq!(limit.check(ip, t0 + Duration::from_millis(1100)), Ok(()));
        assert!(RateLimit::new(0).check(ip, t0).is_ok());
    }
}
