//! (placeholder: commands)
