//! (placeholder: timefmt)
