//! Regressions: one named test per fixed bug, so a bug that was fixed once stays fixed.
//!
//! Convention (STYLE.md #15): when a bug is fixed, add a test here named after what broke,
//! e.g. `fn retr_of_fifo_does_not_hang_a_worker()`, with a comment citing the commit or issue and
//! the exact exchange that failed (command sent, reply got, reply expected). The test must fail
//! on the commit before the fix. Keep each test small and self-contained: start its own
//! `Server` through `common`, bound every wait, never sleep to synchronise.

mod common;
