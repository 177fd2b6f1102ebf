//! Per-client rate limiting of the public endpoint: a token bucket per client (`rate` requests
//! per minute, bursts up to `rate`) — an IPv4 address, or an IPv6 /64 (one host gets a whole
//! /64, so an address each would be no limit at all). The map is bounded: idle buckets are
//! swept at most once a second when it is full, and while it stays full new clients share one
//! overflow bucket, so a flood of addresses costs neither memory nor a scan per request.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept at most.
const MAX_BUCKETS: usize = 10_000;
/// A full map is swept at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Whose bucket a request takes a token from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    Addr(IpAddr),
    /// Every new client while the map is full.
    Overflow,
}

/// An IPv4 address as it is; an IPv6 address as its /64.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

struct Buckets {
    map: HashMap<Client, (f64, Instant)>,
    swept: Option<Instant>,
}

pub struct RateLimit {
    per_minute: u32,
    buckets: Mutex<Buckets>,
}

impl RateLimit {
    /// `per_minute == 0` turns limiting off.
    pub fn new(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute,
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                swept: None,
            }),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes a token for `ip`'s client; `Err(seconds)` until one is available again.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let refill = |tokens: f64, at: Instant| {
            (tokens + now.saturating_duration_since(at).as_secs_f64() * per_sec).min(capacity)
        };
        let mut b = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut client = Client::Addr(client_of(ip));
        if !b.map.contains_key(&client) && b.map.len() >= MAX_BUCKETS {
            let due = b
                .swept
                .is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_EVERY);
            if due {
                b.swept = Some(now);
                b.map.retain(|c, (tokens, at)| {
                    *c == Client::Overflow || refill(*tokens, *at) < capacity
                });
            }
            if b.map.len() >= MAX_BUCKETS {
                client = Client::Overflow;
            }
        }
        let (tokens, at) = b.map.entry(client).or_insert((capacity, now));
        *tokens = refill(*tokens, *at);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_sec).ceil().max(1.0) as u64)
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .map
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn one_ipv6_host_is_one_client_whatever_address_of_its_64_it_uses() {
        let limit = RateLimit::new(10);
        let t0 = Instant::now();
        for i in 0..10u16 {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, i, i, i));
            assert_eq!(limit.check(ip, t0), Ok(()));
        }
        let fresh = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0xffff, 1, 2, 3));
        assert!(limit.check(fresh, t0).is_err(), "the /64 is out of tokens");
        let next_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert_eq!(limit.check(next_64, t0), Ok(()));
    }

    #[test]
    fn a_flood_of_addresses_shares_one_bucket_and_the_map_stays_bounded() {
        let limit = RateLimit::new(5);
        let t0 = Instant::now();
        for i in 0..(MAX_BUCKETS as u32 + 50) {
            let _ = limit.check(IpAddr::V4(i.into()), t0);
        }
        assert!(limit.len() <= MAX_BUCKETS + 1, "{} buckets", limit.len());
        // Past the bound, new addresses draw from the overflow bucket, which ran dry.
        let newcomer: IpAddr = [198, 51, 100, 1].into();
        assert!(limit.check(newcomer, t0).is_err());
        // Once idle buckets refill, a sweep frees room and clients get their own again.
        let later = t0 + Duration::from_secs(120);
        assert_eq!(limit.check(newcomer, later), Ok(()));
        assert!(limit.len() < 100, "{} buckets after the sweep", limit.len());
    }
}
