//! Virtual path normalisation (src/vpath.rs): a cwd and a path joined to it.
//! The properties are in `ferroftpd::fuzz_checks::vpath`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferroftpd::fuzz_checks::vpath(data));
