//! (placeholder: control)
