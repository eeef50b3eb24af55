//! The command parser (src/command.rs) on one control line.
//! The properties are in `ferroftpd::fuzz_checks::command`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferroftpd::fuzz_checks::command(data));
