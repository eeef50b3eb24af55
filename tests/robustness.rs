//! One bad session never hurts another: a panic, garbage, and a vanished client are contained.

mod common;

use common::*;
use std::io::Write;
use std::time::Duration;

#[test]
fn a_panicking_session_closes_alone() {
    // The hook is off unless this variable is set in the server's environment, and absent
    // from a server built without the `test-hooks` feature: then this test fails, never skips.
    std::env::set_var("FERROFTPD_TEST_HOOKS", "1");
    let mut srv = Server::start();
    std::fs::write(srv.root().join("f"), b"still here").unwrap();
    let mut other = srv.anon();
    let mut victim = srv.anon();
    victim.send("SITE PANIC");
    let replies = victim.wait_closed(IO_TIMEOUT);
    assert!(
        replies.as_ref().is_ok_and(|r| r.is_empty()),
        "the panicking session must close without a reply; got {replies:?}. A 500 means the \
         server was built without the test-hooks feature (make test; cargo build --features \
         test-hooks; make cross FEATURES=test-hooks)"
    );
    // The daemon and the other session live on.
    other.expect("NOOP", 200);
    assert_eq!(other.retr("f"), b"still here");
    let mut fresh = srv.anon();
    fresh.expect("PWD", 257);
    // The session thread logs after its unwinding has closed the socket, so on a busy machine
    // that line can come after everything above: wait for it (bounded) before stopping.
    let logged = srv.wait_for_log(IO_TIMEOUT, |l| {
        l.contains("session panicked; connection closed")
    });
    // Stopping explicitly: the harness fails any test whose server logged a panic, and here
    // the panic is the point.
    let logs = srv.stop();
    assert!(logged, "{logs}");
}

#[test]
fn garbage_then_normal_service() {
    let srv = Server::start();
    let mut c = srv.connect();
    c.send_raw(b"\x00\x01\x02\xfe\xfd\r\n");
    assert_eq!(c.read_reply().0, 500);
    c.send_raw(&[b'A'; 5000]);
    c.send_raw(b"\r\n");
    assert_eq!(c.read_reply().0, 500);
    assert!(c.wait_closed(IO_TIMEOUT).is_ok());
    let mut d = srv.anon();
    d.expect("NOOP", 200);
}

#[test]
fn client_vanishing_mid_upload_leaves_the_server_serving() {
    let srv = Server::start_with_users();
    let mut c = srv.login(ALICE);
    c.expect("TYPE I", 200);
    let (mut data, _) = c.start_transfer(b"STOR gone.bin", DataMode::Pasv);
    data.write_all(&pattern(200_000, 5)).unwrap();
    // The whole client disappears: control and data connections reset.
    drop(c);
    drop(data);
    let mut d = srv.login(ALICE);
    d.expect("NOOP", 200);
    assert!(poll_until(Duration::from_secs(10), || {
        std::fs::metadata(srv.root().join("gone.bin")).is_ok()
    }));
}
