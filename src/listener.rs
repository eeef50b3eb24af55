//! (placeholder: listener)
