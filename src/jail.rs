//! (placeholder: jail)
