//! Bandwidth limits: a limiter that sleeps so a transfer's average stays at or below a rate.
//!
//! The limiter counts the bytes moved since it started and sleeps whenever they are ahead of
//! `rate × elapsed`. Time spent stalled (a slow disk or client) earns a credit of at most
//! [`BURST`], so a transfer cannot make up a long stall with a long burst at full speed.

use std::time::{Duration, Instant};

/// Most time a transfer may be behind schedule and then catch up at full speed.
pub const BURST: Duration = Duration::from_secs(1);

/// Where the limiter reads the time and how it waits; a fake clock makes it testable.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Pause the calling thread for `d`.
    fn sleep(&mut self, d: Duration);
}

/// The real monotonic clock and `thread::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Limits one transfer to `bytes_per_sec` on average; 0 means unlimited.
#[derive(Debug)]
pub struct RateLimiter<C: Clock = SystemClock> {
    /// Bytes per second; 0 is unlimited.
    rate: u64,
    /// When counting started (moved forward to drop credit beyond [`BURST`]).
    start: Instant,
    /// Bytes counted since `start`.
    sent: u64,
    clock: C,
}

impl RateLimiter<SystemClock> {
    /// A limiter on the real clock, starting now.
    pub fn new(bytes_per_sec: u64) -> RateLimiter<SystemClock> {
        RateLimiter::with_clock(bytes_per_sec, SystemClock)
    }
}

impl<C: Clock> RateLimiter<C> {
    /// A limiter on `clock`, starting now.
    pub fn with_clock(bytes_per_sec: u64, clock: C) -> RateLimiter<C> {
        let start = clock.now();
        RateLimiter {
            rate: bytes_per_sec,
            start,
            sent: 0,
            clock,
        }
    }

    /// The configured rate in bytes per second (0: unlimited).
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Count `bytes` just moved, sleeping until the average is back within the rate.
    pub fn wait(&mut self, bytes: u64) {
        let pause = self.reserve(bytes);
        if !pause.is_zero() {
            self.clock.sleep(pause);
        }
    }

    /// Count `bytes` just moved and return how long to pause before the next chunk, without
    /// sleeping: a copy loop that must notice ABOR can sleep the pause in short slices.
    pub fn reserve(&mut self, bytes: u64) -> Duration {
        if self.rate == 0 {
            return Duration::ZERO;
        }
        let now = self.clock.now();
        let elapsed = now.saturating_duration_since(self.start);
        let due = self.time_for(self.sent);
        if elapsed > due.saturating_add(BURST) {
            // Behind schedule by more than the burst: forget the excess, keep BURST of credit.
            let excess = elapsed - due - BURST;
            self.start = self.start.checked_add(excess).unwrap_or(now);
        }
        self.sent = self.sent.saturating_add(bytes);
        let due = self.time_for(self.sent);
        due.saturating_sub(now.saturating_duration_since(self.start))
    }

    /// How long `bytes` take at the rate; exact, and without overflow for any `u64`.
    fn time_for(&self, bytes: u64) -> Duration {
        let secs = bytes / self.rate;
        let rest = bytes % self.rate;
        // rest < rate, so rest * 1e9 / rate < 1e9; u128 keeps the product from overflowing.
        let nanos = u128::from(rest) * 1_000_000_000 / u128::from(self.rate);
        Duration::new(secs, u32::try_from(nanos).unwrap_or(999_999_999))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A clock that only moves when told to or when slept on; records every sleep.
    #[derive(Clone)]
    struct FakeClock {
        base: Instant,
        offset: Rc<Cell<Duration>>,
        slept: Rc<Cell<Duration>>,
    }

    impl FakeClock {
        fn new() -> FakeClock {
            FakeClock {
                base: Instant::now(),
                offset: Rc::new(Cell::new(Duration::ZERO)),
                slept: Rc::new(Cell::new(Duration::ZERO)),
            }
        }

        fn advance(&self, d: Duration) {
            self.offset.set(self.offset.get() + d);
        }

        fn elapsed(&self) -> Duration {
            self.offset.get()
        }

        fn slept(&self) -> Duration {
            self.slept.get()
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            self.base + self.offset.get()
        }

        fn sleep(&mut self, d: Duration) {
            self.slept.set(self.slept.get() + d);
            self.advance(d);
        }
    }

    #[test]
    fn zero_is_unlimited_and_never_sleeps() {
        let clock = FakeClock::new();
        let mut limiter = RateLimiter::with_clock(0, clock.clone());
        for _ in 0..1000 {
            limiter.wait(u64::MAX);
        }
        assert_eq!(clock.slept(), Duration::ZERO);
        assert_eq!(limiter.rate(), 0);
    }

    #[test]
    fn an_instant_sender_is_held_to_the_rate() {
        let clock = FakeClock::new();
        let mut limiter = RateLimiter::with_clock(1000, clock.clone());
        // 10 chunks of 500 bytes sent in no time take 5 s at 1000 B/s.
        for _ in 0..10 {
            limiter.wait(500);
        }
        assert_eq!(clock.elapsed(), Duration::from_secs(5));
        // Each wait returns exactly when the average is back at the rate.
        limiter.wait(1);
        assert_eq!(clock.elapsed(), Duration::from_millis(5001));
    }

    #[test]
    fn a_slow_sender_is_not_slowed_further() {
        let clock = FakeClock::new();
        let mut limiter = RateLimiter::with_clock(1000, clock.clone());
        for _ in 0..10 {
            clock.advance(Duration::from_secs(1));
            limiter.wait(500); // half the rate
        }
        assert_eq!(clock.slept(), Duration::ZERO);
    }

    #[test]
    fn a_stall_earns_at_most_one_burst_of_credit() {
        let clock = FakeClock::new();
        let mut limiter = RateLimiter::with_clock(1000, clock.clone());
        clock.advance(Duration::from_secs(60));
        // After a minute of nothing, one second's worth goes out at once...
        limiter.wait(1000);
        assert_eq!(clock.slept(), Duration::ZERO);
        // ...and everything after is paced again, not 60 s of catch-up.
        limiter.wait(1000);
        assert_eq!(clock.slept(), Duration::from_secs(1));
        limiter.wait(3000);
        assert_eq!(clock.slept(), Duration::from_secs(4));
    }

    #[test]
    fn average_stays_within_the_rate_over_a_mixed_run() {
        let clock = FakeClock::new();
        let rate = 64 * 1024;
        let mut limiter = RateLimiter::with_clock(rate, clock.clone());
        let mut total = 0u64;
        for i in 0..2000u64 {
            // Uneven chunks and uneven gaps, as a real copy loop produces.
            clock.advance(Duration::from_micros((i * 7919) % 3000));
            let chunk = 1 + (i * 104_729) % 16_384;
            limiter.wait(chunk);
            total += chunk;
            let secs = clock.elapsed().as_secs_f64();
            // BURST of credit can only come from time already spent waiting.
            assert!(total as f64 <= rate as f64 * (secs + BURST.as_secs_f64()) + 16_384.0);
        }
        let average = total as f64 / clock.elapsed().as_secs_f64();
        assert!(average <= rate as f64 * 1.001, "{average}");
        assert!(
            average >= rate as f64 * 0.9,
            "should not be throttled far below: {average}"
        );
    }

    #[test]
    fn huge_counts_and_rates_do_not_overflow() {
        let clock = FakeClock::new();
        let mut limiter = RateLimiter::with_clock(u64::MAX, clock.clone());
        limiter.wait(u64::MAX);
        limiter.wait(u64::MAX);
        assert!(clock.slept() <= Duration::from_secs(2));
        let mut slow = RateLimiter::with_clock(1, clock.clone());
        assert_eq!(slow.time_for(u64::MAX), Duration::from_secs(u64::MAX));
        assert_eq!(slow.time_for(0), Duration::ZERO);
        let odd = RateLimiter::with_clock(3, clock.clone());
        assert_eq!(odd.time_for(4), Duration::new(1, 333_333_333));
        // Past 4 GiB on a 32-bit target the counters are still exact u64.
        slow.rate = 1 << 20;
        assert_eq!(slow.time_for(5 << 30), Duration::from_secs(5 << 10));
    }

    #[test]
    fn reserve_reports_the_pause_without_sleeping() {
        let clock = FakeClock::new();
        let mut limiter = RateLimiter::with_clock(1000, clock.clone());
        assert_eq!(limiter.reserve(250), Duration::from_millis(250));
        assert_eq!(limiter.reserve(250), Duration::from_millis(500));
        assert_eq!(clock.slept(), Duration::ZERO);
        clock.advance(Duration::from_millis(500));
        assert_eq!(limiter.reserve(0), Duration::ZERO);
        // A tiny rate with a big chunk gives a long pause, for the caller to slice.
        let mut slow = RateLimiter::with_clock(1, clock.clone());
        assert_eq!(slow.reserve(65_536), Duration::from_secs(65_536));
        assert_eq!(slow.reserve(u64::MAX), Duration::from_secs(u64::MAX));
        assert_eq!(slow.reserve(1), Duration::from_secs(u64::MAX), "saturates");
    }

    #[test]
    fn the_real_clock_limiter_builds() {
        let mut limiter = RateLimiter::new(0);
        limiter.wait(1 << 40);
        assert_eq!(limiter.rate(), 0);
    }
}
