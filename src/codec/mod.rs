//! Pure codecs for RFC 959's representation types, structures and transmission modes.
//!
//! Nothing here touches a socket or a file: every codec works on caller-owned byte slices.

pub mod ebcdic;
