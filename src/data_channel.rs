//! (placeholder: data_channel)
