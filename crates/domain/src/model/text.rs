//! The shared shape of validated string values: one error type and one macro
//! that gives each newtype the same accessors, `Display` and serde behaviour.

use thiserror::Error;

/// A value that broke its type's rule. `field` names the value for the caller.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {field}: {reason}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub reason: &'static str,
}

impl InvalidValue {
    pub(crate) const fn new(field: &'static str, reason: &'static str) -> Self {
        Self { field, reason }
    }
}

/// Declares a `String` newtype whose only constructor is `parse`, which runs
/// `$check` on the (possibly normalised) input. Serde goes through `parse` too,
/// so a stored or received value can never bypass the rule.
macro_rules! validated_string {
    ($(#[$meta:meta])* $name:ident, $check:path) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: impl Into<String>) -> Result<Self, $crate::model::InvalidValue> {
                $check(value.into()).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::model::InvalidValue;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::model::InvalidValue;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }
    };
}
pub(crate) use validated_string;

/// Checks a length in characters, inclusive on both ends.
pub(crate) fn check_len(value: &str, field: &'static str, min: usize, max: usize) -> Result<(), InvalidValue> {
    let len = value.chars().count();
    if len < min {
        return Err(InvalidValue::new(field, "too short"));
    }
    if len > max {
        return Err(InvalidValue::new(field, "too long"));
    }
    Ok(())
}

/// Checks that every character is in the allowed set.
pub(crate) fn check_chars(
    value: &str,
    field: &'static str,
    allowed: impl Fn(char) -> bool,
    reason: &'static str,
) -> Result<(), InvalidValue> {
    if value.chars().all(allowed) { Ok(()) } else { Err(InvalidValue::new(field, reason)) }
}

/// Characters that show nothing, break the line, or change how the text
/// around them is ordered: with them a name can impersonate another
/// (`Bob\u{202e}txt.exe`), look empty, or break a list it is shown in.
/// By category: controls, format characters (bidi, zero-width, soft hyphen,
/// tags, the deprecated U+206A–206F), line and paragraph separators, private
/// use and unassigned; and the letters and symbols made to show nothing.
fn hides_or_reorders(c: char) -> bool {
    use unicode_properties::{GeneralCategory as G, UnicodeGeneralCategory};
    matches!(
        c.general_category(),
        G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator | G::PrivateUse | G::Unassigned
    ) || is_filler(c)
}

/// Characters of a letter or symbol category that render as nothing: the
/// Hangul fillers, the blank Braille pattern, the combining grapheme joiner.
fn is_filler(c: char) -> bool {
    matches!(c, '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}' | '\u{2800}' | '\u{034f}')
}

/// Most combining marks one character may carry: enough for any script's
/// accents and vowel signs, too few to stack marks over the lines around it.
const MOST_MARKS_IN_A_ROW: usize = 3;

fn is_mark(c: char) -> bool {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    c.general_category_group() == GeneralCategoryGroup::Mark
}

/// Text shown to other members: what they see is all there is. Nothing
/// hidden, reordering or line-breaking, no marks stacked past
/// `MOST_MARKS_IN_A_ROW`, and, unless empty, something visible.
pub(crate) fn check_visible(value: &str, field: &'static str) -> Result<(), InvalidValue> {
    check_chars(
        value,
        field,
        |c| !hides_or_reorders(c),
        "no control, format, separator, bidi or invisible characters",
    )?;
    let mut marks = 0;
    for c in value.chars() {
        marks = if is_mark(c) { marks + 1 } else { 0 };
        if marks > MOST_MARKS_IN_A_ROW {
            return Err(InvalidValue::new(field, "no more than 3 combining marks on one character"));
        }
    }
    if !value.is_empty() && !value.chars().any(|c| !c.is_whitespace() && !is_mark(c)) {
        return Err(InvalidValue::new(field, "must show at least one visible character"));
    }
    Ok(())
}
