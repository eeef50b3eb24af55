//! The listing glob matcher and LIST argument splitter (src/listing.rs).
//! The properties are in `ferroftpd::fuzz_checks::glob`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferroftpd::fuzz_checks::glob(data));
