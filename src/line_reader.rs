//! (placeholder: line_reader)
