//! An amount of points moved in one operation: 1 ..= 1,000,000,000,000, the
//! range the provider accepts, so an amount that parses is one it will take.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::InvalidValue;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Points(u64);

impl Points {
    pub const MIN: Points = Points(1);
    pub const MAX: Points = Points(1_000_000_000_000);

    pub const fn new(value: u64) -> Result<Self, InvalidValue> {
        if value < Self::MIN.0 {
            Err(InvalidValue::new("amount", "must be at least 1"))
        } else if value > Self::MAX.0 {
            Err(InvalidValue::new("amount", "must be at most 1000000000000"))
        } else {
            Ok(Self(value))
        }
    }

    pub const fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for Points {
    type Error = InvalidValue;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Points::new(value)
    }
}

impl From<Points> for u64 {
    fn from(value: Points) -> u64 {
        value.0
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Points({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exactly_the_provider_range() {
        assert!(Points::new(0).is_err());
        assert_eq!(Points::new(1).map(Points::get), Ok(1));
        assert_eq!(Points::new(1_000_000_000_000).map(Points::get), Ok(1_000_000_000_000));
        assert!(Points::new(1_000_000_000_001).is_err());
    }
}
