//! (placeholder: transfer)
