//! (placeholder: config)
