//! (placeholder: data_pool)
