//! The data pool: a fixed set of worker threads that run transfers; it never grows.
//!
//! A job is only queued when a worker is idle to take it, so `submit` is a bounded hand-off:
//! when every worker is busy the caller waits up to its deadline and then gets the job back
//! (the control thread answers 425).
//!
//! Jobs are also counted per client address ([`DataPool::claim`]), so that one address
//! (eight slow readers, say) cannot hold every worker while other clients wait.

use crate::transfer::TransferJob;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Stack of a data worker: transfers are flat loops, the buffer lives on the heap.
const WORKER_STACK: usize = 128 * 1024;

/// Every worker stayed busy for the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolBusy;

#[derive(Default)]
struct State {
    queue: VecDeque<TransferJob>,
    idle: usize,
    // Submitters waiting for a worker: only then is there anyone to notify (a futex call).
    waiting: usize,
}

struct Shared {
    state: Mutex<State>,
    job_ready: Condvar,
    worker_idle: Condvar,
}

/// Handle to the pool; cheap to clone.
#[derive(Clone)]
pub struct DataPool {
    shared: Arc<Shared>,
    size: usize,
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One job of one client address counted; dropping it frees the place.
#[must_use = "the place is freed when the claim drops"]
pub struct Claim {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl Drop for Claim {
    fn drop(&mut self) {
        // A poisoned lock still holds consistent counts (no code panics while holding it).
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

impl DataPool {
    /// Start `size` workers (at least one).
    pub fn start(size: usize) -> std::io::Result<DataPool> {
        let size = size.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            job_ready: Condvar::new(),
            worker_idle: Condvar::new(),
        });
        for i in 0..size {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("data-{i}"))
                .stack_size(WORKER_STACK)
                .spawn(move || worker(&shared))?;
        }
        Ok(DataPool {
            shared,
            size,
            per_address: Arc::default(),
        })
    }

    /// Count one more job for `ip` (IPv4-mapped IPv6 folded to IPv4), unless it already has
    /// `max` (0: no cap). Hold the claim until the job is done.
    pub fn claim(&self, ip: IpAddr, max: usize) -> Option<Claim> {
        let ip = ip.to_canonical();
        let mut counts = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(ip).or_insert(0);
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(Claim {
            counts: Arc::clone(&self.per_address),
            ip,
        })
    }

    /// Number of workers.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Hand `job` to an idle worker, waiting at most `wait`; on timeout the job is dropped.
    pub fn submit(&self, job: TransferJob, wait: Duration) -> Result<(), PoolBusy> {
        let deadline = Instant::now() + wait;
        let Ok(mut state) = self.shared.state.lock() else {
            return Err(PoolBusy);
        };
        // Bounded: each wake-up either finds a free worker or moves toward the deadline.
        while state.idle <= state.queue.len() {
            let now = Instant::now();
            if now >= deadline {
                return Err(PoolBusy);
            }
            state.waiting += 1;
            match self.shared.worker_idle.wait_timeout(state, deadline - now) {
                Ok((s, _)) => state = s,
                Err(_) => return Err(PoolBusy),
            }
            state.waiting -= 1;
        }
        state.queue.push_back(job);
        drop(state);
        self.shared.job_ready.notify_one();
        Ok(())
    }
}

fn worker(shared: &Shared) {
    // Allocated once per worker by the first job that copies (see `transfer::scratch`): an
    // idle pool, or one that only runs sendfile downloads, costs no buffer memory.
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let job = {
            let Ok(mut state) = shared.state.lock() else {
                return;
            };
            state.idle += 1;
            if state.waiting > 0 {
                shared.worker_idle.notify_all();
            }
            loop {
                if let Some(job) = state.queue.pop_front() {
                    state.idle -= 1;
                    break job;
                }
                state = match shared.job_ready.wait(state) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
        };
        // A panic inside one transfer must not shrink the pool; the job (and with it the
        // completion pipe) is dropped during unwinding, so its control thread wakes up.
        if catch_unwind(AssertUnwindSafe(|| job.run(&mut buf))).is_err() {
            log::error!("a data transfer panicked; the worker continues");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data_channel::{open_passive, DataPolicy, DataSetup};
    use crate::error::TransferOutcome;
    use crate::transfer::Payload;
    use std::io::Read;
    use std::net::TcpStream;

    fn listing_job(
        bytes: &[u8],
    ) -> (
        TransferJob,
        crate::transfer::TransferHandle,
        std::net::SocketAddr,
    ) {
        let ip = "127.0.0.1".parse().unwrap();
        let listener = open_passive(ip, None).unwrap();
        let addr = listener.local_addr().unwrap();
        let setup = DataSetup::Passive { listener, peer: ip };
        let policy = DataPolicy {
            allow_fxp: false,
            timeout: Duration::from_secs(10),
            rate: 0,
            from_port_20: false,
            stall: None,
        };
        let (job, handle) =
            TransferJob::new(Payload::SendBytes(bytes.to_vec()), Some(setup), policy).unwrap();
        (job, handle, addr)
    }

    #[test]
    fn runs_a_job_and_reports() {
        let pool = DataPool::start(1).unwrap();
        let (job, handle, addr) = listing_job(b"hello\r\n");
        pool.submit(job, Duration::from_secs(5)).unwrap();
        let mut c = TcpStream::connect(addr).unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hello\r\n");
        let outcome = handle.outcome.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(outcome, TransferOutcome::Complete(7));
    }

    #[test]
    fn claims_are_capped_per_address_and_freed_on_drop() {
        let pool = DataPool::start(1).unwrap();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = pool.claim(a, 2).unwrap();
        let second = pool.claim(a, 2).unwrap();
        assert!(pool.claim(a, 2).is_none(), "a third job for one address");
        // The mapped form of an address is the same client.
        assert!(pool.claim("::ffff:10.0.0.1".parse().unwrap(), 2).is_none());
        let other = pool.claim(b, 2).unwrap();
        drop(first);
        let third = pool.claim(a, 2).unwrap();
        drop((second, third, other));
        assert!(pool.per_address.lock().unwrap().is_empty());
        // 0 is no cap.
        let many: Vec<_> = (0..100).map(|_| pool.claim(a, 0).unwrap()).collect();
        drop(many);
        assert!(pool.per_address.lock().unwrap().is_empty());
    }

    #[test]
    fn full_pool_refuses_after_the_wait() {
        let pool = DataPool::start(1).unwrap();
        let (job1, _h1, _a1) = listing_job(b"x");
        pool.submit(job1, Duration::from_secs(5)).unwrap();
        // The only worker now waits for a data connection that never comes.
        let (job2, _h2, _a2) = listing_job(b"y");
        assert!(pool.submit(job2, Duration::from_millis(200)).is_err());
    }
}
