//! (placeholder: command)
