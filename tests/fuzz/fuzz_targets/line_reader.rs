//! The Telnet/line reader (src/line_reader.rs) on a trickled byte stream.
//! The properties are in `ferroftpd::fuzz_checks::line_reader`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferroftpd::fuzz_checks::line_reader(data));
