//! ferroftpd: a small, confined FTP server for embedded Linux.
//!
//! (Architecture notes are filled in as the modules land.)

pub mod auth;
pub mod cli;
pub mod command;
pub mod commands;
pub mod config;
pub mod control;
pub mod data_channel;
pub mod data_pool;
pub mod error;
pub mod ffi;
pub mod file_info;
pub mod jail;
pub mod line_reader;
pub mod listener;
pub mod listing;
pub mod oldkernel;
pub mod reply;
pub mod session;
pub mod startup;
pub mod timefmt;
pub mod transfer;
pub mod vpath;
