//! (placeholder: vpath)
