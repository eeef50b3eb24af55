//! (placeholder: listing)
