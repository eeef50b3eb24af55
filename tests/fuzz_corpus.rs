//! Replays the committed fuzz corpus (`tests/fuzz/corpus/<target>/`) through the property
//! checks the fuzz targets run (`ferroftpd::fuzz_checks`), so `make test` keeps every input
//! fuzzing found interesting, crash reproducers included. Needs neither nightly nor cargo-fuzz.

use ferroftpd::fuzz_checks::TARGETS;
use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

/// Run every corpus file of `target` through its check; report each input that fails.
fn replay(target: &str) {
    let (_, check) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("no such target in fuzz_checks::TARGETS");
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = fs::read(file).expect("corpus file");
            panic::catch_unwind(|| check(&data)).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} inputs fail: {failed:#?}",
        failed.len(),
        files.len()
    );
}

#[test]
fn corpus_command() {
    replay("command");
}

#[test]
fn corpus_line_reader() {
    replay("line_reader");
}

#[test]
fn corpus_vpath() {
    replay("vpath");
}

#[test]
fn corpus_data_args() {
    replay("data_args");
}

#[test]
fn corpus_config() {
    replay("config");
}

#[test]
fn corpus_users() {
    replay("users");
}

#[test]
fn corpus_glob() {
    replay("glob");
}

/// Every fuzz target has its check and corpus here, and every check has a fuzz target.
#[test]
fn fuzz_targets_and_checks_match() {
    let mut files: Vec<String> = fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .expect("tests/fuzz/fuzz_targets")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|(n, _)| format!("{n}.rs")).collect();
    names.sort();
    assert_eq!(files, names);
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz Cargo.toml");
    for (name, _) in TARGETS {
        assert!(
            manifest.contains(&format!("path = \"fuzz_targets/{name}.rs\"")),
            "{name} has no [[bin]] in tests/fuzz/Cargo.toml"
        );
    }
}
