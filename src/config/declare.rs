//! The `config_keys!` macro: turns the key table in `config.rs` into the typed `Config`.

/// Expands one line per key into the `Config` field (documented with the key and its help),
/// its default, the `KEYS` list, and `Config`'s per-key setter, getter and direct check.
///
/// A line reads `field [as "file_key"]: Type = default, kind, "help";` where `kind` is a value
/// of a `values::Kind` for `Type`; `as` names a file key that differs from the field name.
/// `///` lines before it add to the field's documentation.
macro_rules! config_keys {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident $(as $key:literal)?: $ty:ty = $default:expr, $kind:expr, $help:literal;
    )*) => {
        /// Every setting of the server; [`Config::default`] holds the documented defaults.
        #[derive(Clone, Debug, PartialEq)]
        pub struct Config {
            $(
                #[doc = concat!("`", config_keys!(@key $field $($key)?), "`: ", $help, ".")]
                $(#[doc = $doc])*
                pub $field: $ty,
            )*
        }

        impl Default for Config {
            fn default() -> Self {
                Config { $($field: $default,)* }
            }
        }

        /// Every key [`Config::apply`] accepts (canonical `_` spelling) with a one-line
        /// description.
        pub const KEYS: &[(&str, &str)] = &[$((config_keys!(@key $field $($key)?), $help),)*];

        impl Config {
            /// Set the canonically spelled `key` from `value`; errors name no key.
            fn apply_canonical(&mut self, key: &str, value: &str) -> Result<(), String> {
                use $crate::config::values::Kind as _;
                $(
                    if key == config_keys!(@key $field $($key)?) {
                        self.$field = $kind.parse(value)?;
                        return Ok(());
                    }
                )*
                Err("unknown key".to_string())
            }

            /// The value of the canonically spelled `key` in file syntax; `None` if unset or
            /// not a key.
            fn get_canonical(&self, key: &str) -> Option<String> {
                use $crate::config::values::Kind as _;
                $(
                    if key == config_keys!(@key $field $($key)?) {
                        return $kind.print(&self.$field);
                    }
                )*
                None
            }

            /// The direct check of the field of the canonically spelled `key`, for a kind that
            /// has one; `None`: check it by its text.
            fn check_directly(&self, key: &str) -> Option<Result<(), String>> {
                use $crate::config::values::Kind as _;
                $(
                    if key == config_keys!(@key $field $($key)?) {
                        return $kind.check(&self.$field);
                    }
                )*
                None
            }
        }
    };
    (@key $field:ident) => { stringify!($field) };
    (@key $field:ident $key:literal) => { $key };
}

pub(super) use config_keys;
