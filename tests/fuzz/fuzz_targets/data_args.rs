//! PORT, EPRT and EPSV arguments (src/command.rs).
//! The properties are in `ferroftpd::fuzz_checks::data_args`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferroftpd::fuzz_checks::data_args(data));
