//! The `ferroftpd` binary: parse the command line, load the config, run.

fn main() {}
