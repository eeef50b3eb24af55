//! (placeholder: startup)
