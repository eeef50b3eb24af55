//! Temporary bans: client addresses with too many failed logins in a window are refused for a
//! while, tracked in bounded memory.
//!
//! IPv6 clients are counted per /64, the block one subscriber usually gets: per address, one
//! host could rotate through 2^64 of them. An IPv4-mapped IPv6 address counts as its IPv4.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most addresses (or /64s) tracked at once: a few hundred KiB at most.
pub const MAX_TRACKED: usize = 4096;

/// Entries evicted at once when the table is full.
const EVICT_BATCH: usize = MAX_TRACKED / 8;

/// What one tracked address is counted under.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    /// An IPv4 address.
    V4(u32),
    /// The first 64 bits of an IPv6 address.
    V6(u64),
}

impl Key {
    fn of(ip: IpAddr) -> Key {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Key::V4(u32::from(v4)),
            IpAddr::V6(v6) => Key::V6(u64::try_from(u128::from(v6) >> 64).unwrap_or(u64::MAX)),
        }
    }
}

/// The failures and ban of one key.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Failures since `window_start`.
    failures: u32,
    /// Start of the counting window.
    window_start: Instant,
    /// End of the current ban, if any.
    banned_until: Option<Instant>,
    /// Last failure, for eviction.
    last_seen: Instant,
}

impl Entry {
    fn banned_at(&self, now: Instant) -> bool {
        self.banned_until.is_some_and(|until| now < until)
    }
}

/// Failed logins per client address, and the bans they led to; shared by all sessions.
#[derive(Debug)]
pub struct Bans {
    after: u32,
    window: Duration,
    ban_time: Duration,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Bans {
    /// Ban for `ban_time` an address with `after` failures within `window`; `after == 0`
    /// never bans.
    pub fn new(after: u32, window: Duration, ban_time: Duration) -> Bans {
        Bans {
            after,
            window,
            ban_time,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Count a failed login from `ip`; true if `ip` is banned now.
    pub fn record_failure(&self, ip: IpAddr) -> bool {
        self.record_failure_at(ip, Instant::now())
    }

    /// Whether `ip` is banned now (check it when a connection is accepted).
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        self.is_banned_at(ip, Instant::now())
    }

    /// [`Bans::record_failure`] at a given instant (tests inject time).
    pub fn record_failure_at(&self, ip: IpAddr, now: Instant) -> bool {
        if self.after == 0 {
            return false;
        }
        let key = Key::of(ip);
        let mut entries = self.lock();
        if !entries.contains_key(&key) && entries.len() >= MAX_TRACKED {
            self.make_room(&mut entries, now);
        }
        let entry = entries.entry(key).or_insert(Entry {
            failures: 0,
            window_start: now,
            banned_until: None,
            last_seen: now,
        });
        entry.last_seen = now;
        if entry.banned_at(now) {
            return true;
        }
        if now.saturating_duration_since(entry.window_start) > self.window {
            entry.failures = 0;
            entry.window_start = now;
        }
        entry.failures = entry.failures.saturating_add(1);
        if entry.failures >= self.after {
            entry.banned_until = Some(now.checked_add(self.ban_time).unwrap_or(now));
            entry.failures = 0;
            entry.window_start = now;
            return true;
        }
        false
    }

    /// [`Bans::is_banned`] at a given instant (tests inject time).
    pub fn is_banned_at(&self, ip: IpAddr, now: Instant) -> bool {
        self.lock()
            .get(&Key::of(ip))
            .is_some_and(|entry| entry.banned_at(now))
    }

    /// Addresses tracked now (for STAT and tests).
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    /// Free room when full: drop entries that no longer matter, else evict the least valuable
    /// eighth at once, so a flood of new addresses costs one sort per 512 of them.
    fn make_room(&self, entries: &mut HashMap<Key, Entry>, now: Instant) {
        let window = self.window;
        entries.retain(|_, e| {
            e.banned_at(now) || now.saturating_duration_since(e.window_start) <= window
        });
        if entries.len() < MAX_TRACKED {
            return;
        }
        // SECURITY: evict merely counted addresses before banned ones, so a flood of new
        // addresses cannot free a banned attacker; oldest first, and among bans the one
        // ending soonest.
        let mut ranked: Vec<(bool, Option<Instant>, Instant, Key)> = entries
            .iter()
            .map(|(k, e)| (e.banned_at(now), e.banned_until, e.last_seen, *k))
            .collect();
        ranked.sort_unstable();
        for (_, _, _, key) in ranked.iter().take(EVICT_BATCH) {
            entries.remove(key);
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        // The map stays consistent after a panic elsewhere: every update is a single field
        // write or insert.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn bans_after_n_failures_in_the_window_and_lifts_after_ban_time() {
        let bans = Bans::new(3, secs(60), secs(600));
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        assert!(!bans.record_failure_at(a, t0));
        assert!(!bans.record_failure_at(a, t0 + secs(10)));
        assert!(!bans.is_banned_at(a, t0 + secs(10)));
        assert!(
            bans.record_failure_at(a, t0 + secs(20)),
            "third failure bans"
        );
        assert!(bans.is_banned_at(a, t0 + secs(20)));
        assert!(bans.is_banned_at(a, t0 + secs(619)));
        assert!(!bans.is_banned_at(a, t0 + secs(620)), "ban over");
        // Others are unaffected.
        assert!(!bans.is_banned_at(ip("192.0.2.2"), t0 + secs(20)));
        // After the ban, counting starts again from zero.
        assert!(!bans.record_failure_at(a, t0 + secs(621)));
        assert!(!bans.is_banned_at(a, t0 + secs(621)));
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_ban() {
        let bans = Bans::new(3, secs(60), secs(600));
        let t0 = Instant::now();
        let a = ip("198.51.100.9");
        for i in 0..20 {
            assert!(!bans.record_failure_at(a, t0 + secs(i * 31)), "failure {i}");
        }
        assert!(!bans.is_banned_at(a, t0 + secs(20 * 31)));
    }

    #[test]
    fn zero_never_bans() {
        let bans = Bans::new(0, secs(60), secs(600));
        let t0 = Instant::now();
        for _ in 0..100 {
            assert!(!bans.record_failure_at(ip("192.0.2.1"), t0));
        }
        assert!(!bans.is_banned_at(ip("192.0.2.1"), t0));
        assert_eq!(bans.tracked(), 0);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let bans = Bans::new(2, secs(60), secs(600));
        let t0 = Instant::now();
        assert!(!bans.record_failure_at(ip("2001:db8:1:2::1"), t0));
        assert!(bans.record_failure_at(ip("2001:db8:1:2:ffff::9"), t0));
        assert!(bans.is_banned_at(ip("2001:db8:1:2:abcd::"), t0));
        assert!(!bans.is_banned_at(ip("2001:db8:1:3::1"), t0), "next /64");
        let v4 = Ipv4Addr::new(203, 0, 113, 5);
        assert!(!bans.record_failure_at(IpAddr::V4(v4), t0));
        assert!(bans.record_failure_at(IpAddr::V6(v4.to_ipv6_mapped()), t0));
        assert!(bans.is_banned_at(IpAddr::V4(v4), t0));
        assert!(!bans.is_banned_at(IpAddr::V6(Ipv6Addr::LOCALHOST), t0));
    }

    #[test]
    fn memory_is_bounded_and_bans_survive_a_flood() {
        let bans = Bans::new(2, secs(60), secs(600));
        let t0 = Instant::now();
        let attacker = ip("192.0.2.66");
        bans.record_failure_at(attacker, t0);
        assert!(bans.record_failure_at(attacker, t0));
        // One failure each from many new addresses, within the window.
        for i in 0..(3 * MAX_TRACKED as u32) {
            let flood = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            bans.record_failure_at(flood, t0 + Duration::from_millis(u64::from(i)));
            assert!(bans.tracked() <= MAX_TRACKED);
        }
        assert!(bans.tracked() > MAX_TRACKED - EVICT_BATCH);
        assert!(bans.is_banned_at(attacker, t0 + secs(30)), "still banned");
        // The most recent flood addresses are the ones kept.
        let last = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 3 * MAX_TRACKED as u32 - 1));
        assert!(
            bans.record_failure_at(last, t0 + secs(30)),
            "its second failure bans"
        );
        let first = IpAddr::V4(Ipv4Addr::from(0x0a00_0000));
        assert!(
            !bans.record_failure_at(first, t0 + secs(30)),
            "evicted: counting anew"
        );
    }

    #[test]
    fn stale_entries_are_dropped_first_when_full() {
        let bans = Bans::new(5, secs(60), secs(600));
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED as u32 {
            bans.record_failure_at(IpAddr::V4(Ipv4Addr::from(i + 1)), t0);
        }
        assert_eq!(bans.tracked(), MAX_TRACKED);
        // Two minutes later every window has passed: one new address clears them all.
        bans.record_failure_at(ip("192.0.2.1"), t0 + secs(120));
        assert_eq!(bans.tracked(), 1);
    }

    #[test]
    fn is_shared_between_threads() {
        let bans = std::sync::Arc::new(Bans::new(100, secs(60), secs(600)));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let bans = std::sync::Arc::clone(&bans);
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        bans.record_failure(ip("192.0.2.7"));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        assert!(bans.is_banned(ip("192.0.2.7")), "100 failures in total ban");
    }
}
