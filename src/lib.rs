//! ferroftpd: a small, confined FTP server for embedded Linux.
//!
//! (Architecture notes are filled in as the modules land.)

pub mod auth;
pub mod ban;
pub mod cli;
pub mod command;
pub mod commands;
pub mod config;
pub mod context;
pub mod control;
pub mod daemon;
pub mod data_channel;
pub mod data_pool;
pub mod error;
pub mod ffi;
pub mod file_info;
pub mod jail;
pub mod line_reader;
pub mod listener;
pub mod listing;
pub mod messages;
pub mod privilege;
pub mod ratelimit;
pub mod reply;
pub mod session;
pub mod startup;
pub mod syslog;
pub mod system_users;
pub mod timefmt;
pub mod transfer;
pub mod vpath;
pub mod xferlog;
