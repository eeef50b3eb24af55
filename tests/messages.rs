//! What a session is shown besides replies to commands (issue 5): the banner file, login and
//! directory messages, and dot files hidden from listings.

mod common;

use common::*;
use std::fs;
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// Messages

#[test]
fn banner_file_login_message_and_directory_message_are_shown() {
    let b = Server::builder().user(ALICE);
    let banner = b.outside().join("banner");
    fs::write(&banner, "Welcome to the test device\nAuthorised use only\n").unwrap();
    let srv = b
        .opt("banner_file", path_str(&banner))
        .opt("login_message", "Hello there\\nUploads go to /in")
        .start();
    fs::create_dir(srv.root().join("pub")).unwrap();
    fs::write(srv.root().join("pub/.message"), "Files for release 2.1\n").unwrap();

    let mut c = srv.connect();
    let g = c.greeting.text();
    assert!(g.contains("Welcome to the test device"), "{g}");
    assert!(g.contains("Authorised use only"), "{g}");
    assert!(g.starts_with("220-"), "multi-line 220 expected: {g}");
    c.expect("USER alice", 331);
    let text = c.expect(&format!("PASS {}", ALICE.password), 230);
    assert!(
        text.contains("Hello there") && text.contains("Uploads go to /in"),
        "{text}"
    );
    let r = c.cmd_raw(b"CWD pub");
    assert_eq!(r.code, 250, "{}", r.text());
    assert!(
        r.lines
            .iter()
            .any(|l| l.starts_with(b"250-") && lossy(l).contains("Files for release 2.1")),
        "the .message should come as 250- lines: {}",
        r.text()
    );
    // No message file, no message: the plain 250.
    let r = c.cmd_raw(b"CWD /");
    assert_eq!(r.code, 250);
    assert!(!r.text().contains("Files for release"), "{}", r.text());
}

// ---------------------------------------------------------------------------------------------
// hide_dot_files

#[test]
fn hide_dot_files_hides_them_from_list_a_and_mlsd() {
    let populate = |root: &Path| {
        fs::write(root.join(".hidden"), b"h").unwrap();
        fs::create_dir(root.join(".hdir")).unwrap();
        fs::write(root.join("visible"), b"v").unwrap();
    };
    // Without the option LIST -a shows them: the check below is not vacuous.
    let plain = Server::start();
    populate(&plain.root());
    let names = list_names(&plain.anon().list("-a"));
    assert!(names.contains(&".hidden".to_string()), "{names:?}");

    let srv = Server::builder().opt("hide_dot_files", "yes").start();
    populate(&srv.root());
    let mut c = srv.anon();
    let names = list_names(&c.list("-a"));
    assert!(names.contains(&"visible".to_string()), "{names:?}");
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "LIST -a: {names:?}"
    );
    let mlsd = c.transfer_in(b"MLSD", DataMode::Pasv);
    let mut seen = Vec::new();
    for line in listing_lines(&mlsd) {
        let line = lossy(&line);
        let (facts, name) = line.split_once(' ').unwrap_or(("", &line));
        let facts = facts.to_ascii_lowercase();
        if facts.contains("type=cdir") || facts.contains("type=pdir") {
            continue;
        }
        seen.push(name.to_string());
    }
    assert_eq!(seen, ["visible"], "MLSD:\n{}", lossy(&mlsd));
}
