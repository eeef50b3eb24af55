//! The users-file parser (src/auth.rs) on a file's bytes.
//! The properties are in `ferroftpd::fuzz_checks::users_file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferroftpd::fuzz_checks::users_file(data));
