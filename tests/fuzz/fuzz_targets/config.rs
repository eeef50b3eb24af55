//! The config file parser (src/config.rs) on a file's bytes.
//! The properties are in `ferroftpd::fuzz_checks::config_file`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferroftpd::fuzz_checks::config_file(data));
