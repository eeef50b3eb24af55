//! (placeholder: session)
