//! The one place each enum's stored and wire names are written: `names!`
//! gives an enum `ALL`, `as_str` and `FromStr` from a single list. Stored
//! documents, queries, metrics labels and logs all read these; a test pins
//! them (tests/stored_names.rs), since renaming one is a migration.

/// `names!(Type { Variant => "name", ... })`: every variant with its name.
/// `as_str`'s match makes the compiler refuse a variant left out, and `ALL`
/// and `FromStr` are made from the same list, so none can disagree.
macro_rules! names {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// Its name in the store, on the wire and in logs.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::InvalidValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|value| value.as_str() == text)
                    .ok_or($crate::model::InvalidValue::new(stringify!($name), "not one of its names"))
            }
        }
    };
}

pub(crate) use names;
