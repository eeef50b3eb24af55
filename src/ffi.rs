//! (placeholder: ffi)
