//! The scenarios a run draws from, and the weighted mix of them.

use std::fmt;
use std::str::FromStr;

use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// `GET /v1/me/balance`.
    View,
    /// `POST /v1/transfers` of 1 point to another member, a fresh key each time.
    Share,
    /// `GET /v1/transfers?limit=20`.
    History,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::View, Scenario::Share, Scenario::History];

    pub fn name(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Share => "share",
            Self::History => "history",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Weights of each scenario; `--scenario` takes one name, `mix` (60% view,
/// 30% share, 10% history), or weights like `view=50,share=50`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    weights: Vec<(Scenario, u32)>,
}

impl Mix {
    pub fn draw(&self, rng: &mut impl Rng) -> Scenario {
        let total: u32 = self.weights.iter().map(|(_, weight)| weight).sum();
        let mut roll = rng.random_range(0..total);
        for (scenario, weight) in &self.weights {
            if roll < *weight {
                return *scenario;
            }
            roll -= weight;
        }
        unreachable!("the roll is below the total of the weights")
    }

    pub fn scenarios(&self) -> impl Iterator<Item = Scenario> + '_ {
        self.weights.iter().map(|(scenario, _)| *scenario)
    }
}

impl FromStr for Mix {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let scenario = |name: &str| {
            Scenario::ALL
                .into_iter()
                .find(|s| s.name() == name)
                .ok_or_else(|| format!("unknown scenario {name:?}: expected view, share, history or mix"))
        };
        let weights = match value {
            "mix" => vec![(Scenario::View, 60), (Scenario::Share, 30), (Scenario::History, 10)],
            single if !single.contains('=') => vec![(scenario(single)?, 1)],
            pairs => pairs
                .split(',')
                .map(|pair| {
                    let (name, weight) = pair.split_once('=').ok_or_else(|| format!("{pair:?} is not name=weight"))?;
                    let weight =
                        weight.trim().parse().map_err(|_| format!("{weight:?} is not a whole-number weight"))?;
                    Ok((scenario(name.trim())?, weight))
                })
                .collect::<Result<Vec<_>, String>>()?,
        };
        let weights: Vec<_> = weights.into_iter().filter(|(_, weight)| *weight > 0).collect();
        if weights.is_empty() {
            return Err("the mix needs at least one scenario with a weight above 0".into());
        }
        Ok(Mix { weights })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn parses_names_the_default_mix_and_weights() {
        assert_eq!("share".parse::<Mix>().expect("valid").scenarios().collect::<Vec<_>>(), [Scenario::Share]);
        let mix: Mix = "view=1, history=3".parse().expect("valid");
        assert_eq!(mix.scenarios().collect::<Vec<_>>(), [Scenario::View, Scenario::History]);
        for bad in ["browse", "view=x", "view=0", "view=1,share"] {
            assert!(bad.parse::<Mix>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn the_default_mix_draws_in_proportion() {
        let mix: Mix = "mix".parse().expect("valid");
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..10_000 {
            *counts.entry(mix.draw(&mut rng)).or_insert(0) += 1;
        }
        let share = |s| f64::from(counts[&s]) / 10_000.0;
        assert!((share(Scenario::View) - 0.6).abs() < 0.03, "{counts:?}");
        assert!((share(Scenario::Share) - 0.3).abs() < 0.03, "{counts:?}");
        assert!((share(Scenario::History) - 0.1).abs() < 0.03, "{counts:?}");
    }
}
