//! Learning-rate schedules, stepped once after every epoch as PyTorch's
//! schedulers are, with PyTorch's own (recursive) formulas, so that the rates
//! agree to the last bit. `e` is the number of epochs done (`last_epoch`),
//! `lr` the rate of the epoch before:
//!
//! | `--lr-schedule` | PyTorch | rate after epoch `e` |
//! | --- | --- | --- |
//! | `constant` | none | `lr0` |
//! | `step:EVERY:GAMMA` | `StepLR` | `lr * GAMMA` when `e % EVERY == 0`, else `lr` |
//! | `exponential:GAMMA` | `ExponentialLR` | `lr * GAMMA` |
//! | `cosine:T_MAX[:MIN]` | `CosineAnnealingLR` | `MIN + (1 + cos(pi e/T)) / (1 + cos(pi (e-1)/T)) (lr - MIN)`, or `lr + (lr0 - MIN)(1 - cos(pi/T))/2` when `(e - 1 - T) % 2T == 0`: after `T_MAX` the rate rises again |
//! | `plateau:PATIENCE:FACTOR` | `ReduceLROnPlateau` (mode min, threshold 1e-4 rel, cooldown 0, min_lr 0, eps 1e-8) | `lr * FACTOR` after more than `PATIENCE` epochs in a row whose monitored loss was not below `best * (1 - 1e-4)` |
//!
//! The plateau schedule watches the validation loss, or else the epoch's
//! training loss. A resumed run replays the history it loads (the state is a
//! function of the recorded epochs), so its rates are the uninterrupted run's.
//!
//! ```
//! use synapse_train::{LrScheduler, Schedule};
//! let mut s = LrScheduler::new(Schedule::Step { every: 2, gamma: 0.5 }, 1.0);
//! let mut rates = vec![s.lr()];
//! for _ in 0..4 {
//!     s.step(0.0);
//!     rates.push(s.lr());
//! }
//! assert_eq!(rates, [1.0, 1.0, 0.5, 0.5, 0.25]);
//! ```

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// How the learning rate changes over epochs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Schedule {
    /// The same rate throughout.
    #[default]
    Constant,
    /// Multiply by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays (at least 1).
        every: usize,
        /// Factor.
        gamma: f64,
    },
    /// Multiply by `gamma` every epoch.
    Exponential {
        /// Factor.
        gamma: f64,
    },
    /// Cosine annealing from `lr0` down to `min` over `t_max` epochs, and up again.
    Cosine {
        /// Epochs of one half period.
        t_max: usize,
        /// The lowest rate.
        min: f64,
    },
    /// Multiply by `factor` when the monitored loss stops improving.
    Plateau {
        /// Epochs without improvement that are tolerated.
        patience: usize,
        /// Factor (in `(0, 1)`).
        factor: f64,
    },
}

/// `ReduceLROnPlateau`'s relative threshold.
const PLATEAU_THRESHOLD: f64 = 1e-4;
/// `ReduceLROnPlateau`'s smallest change of rate.
const PLATEAU_EPS: f64 = 1e-8;

impl Schedule {
    /// The rate of epoch `epoch` (0-based) for the schedules that depend on
    /// the epoch alone (the plateau schedule stays at `lr0` here).
    pub fn lr(&self, lr0: f64, epoch: usize) -> f64 {
        let mut s = LrScheduler::new(*self, lr0);
        for _ in 0..epoch {
            s.step(0.0);
        }
        s.lr()
    }

    /// Checks the numbers: positive counts, factors and rates in range.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: &str| Err(Error::config("lr-schedule", format!("{self}: {reason}")));
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Step { every, gamma } => {
                if every == 0 {
                    return bad("EVERY must be at least 1");
                }
                positive_finite(gamma)
                    .then_some(())
                    .map_or_else(|| bad("GAMMA must be a finite number greater than 0"), Ok)
            }
            Schedule::Exponential { gamma } => positive_finite(gamma)
                .then_some(())
                .map_or_else(|| bad("GAMMA must be a finite number greater than 0"), Ok),
            Schedule::Cosine { t_max, min } => {
                if t_max == 0 {
                    return bad("T_MAX must be at least 1");
                }
                if !(min.is_finite() && min >= 0.0) {
                    return bad("MIN_LR must be a finite number of at least 0");
                }
                Ok(())
            }
            Schedule::Plateau { factor, .. } => {
                if !(factor > 0.0 && factor < 1.0) {
                    return bad("FACTOR must be between 0 and 1");
                }
                Ok(())
            }
        }
    }
}

fn positive_finite(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// A schedule's running state: the current rate and, for the plateau
/// schedule, the best loss so far and the epochs since.
#[derive(Debug, Clone, PartialEq)]
pub struct LrScheduler {
    schedule: Schedule,
    base: f64,
    lr: f64,
    epochs: usize,
    best: f64,
    bad_epochs: usize,
}

impl LrScheduler {
    /// The state before the first epoch: rate `base`.
    pub fn new(schedule: Schedule, base: f64) -> Self {
        Self {
            schedule,
            base,
            lr: base,
            epochs: 0,
            best: f64::INFINITY,
            bad_epochs: 0,
        }
    }

    /// The rate of the next epoch.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Steps past one epoch whose monitored loss was `monitored` (used by the
    /// plateau schedule only).
    pub fn step(&mut self, monitored: f64) {
        self.epochs += 1;
        let e = self.epochs;
        let lr = self.lr;
        self.lr = match self.schedule {
            Schedule::Constant => lr,
            Schedule::Step { every, gamma } => {
                if e.is_multiple_of(every.max(1)) {
                    lr * gamma
                } else {
                    lr
                }
            }
            Schedule::Exponential { gamma } => lr * gamma,
            Schedule::Cosine { t_max, min } => {
                let t = t_max.max(1) as f64;
                let pi = std::f64::consts::PI;
                let (e_i, t_i) = (e as i64, t_max.max(1) as i64);
                // mutants: `e_i - 1 + t_i` is equivalent: it differs by 2 t_i,
                // a multiple of the modulus.
                if (e_i - 1 - t_i).rem_euclid(2 * t_i) == 0 {
                    lr + (self.base - min) * (1.0 - (pi / t).cos()) / 2.0
                } else {
                    (1.0 + (pi * e as f64 / t).cos()) / (1.0 + (pi * (e - 1) as f64 / t).cos())
                        * (lr - min)
                        + min
                }
            }
            Schedule::Plateau { patience, factor } => {
                if monitored < self.best * (1.0 - PLATEAU_THRESHOLD) {
                    self.best = monitored;
                    self.bad_epochs = 0;
                } else {
                    self.bad_epochs += 1;
                }
                if self.bad_epochs > patience {
                    self.bad_epochs = 0;
                    let reduced = (lr * factor).max(0.0);
                    if lr - reduced > PLATEAU_EPS {
                        reduced
                    } else {
                        lr
                    }
                } else {
                    lr
                }
            }
        };
    }
}

/// The command line's form: `constant`, `step:EVERY:GAMMA`, `exponential:GAMMA`,
/// `cosine:T_MAX:MIN_LR`, `plateau:PATIENCE:FACTOR`.
impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Constant => write!(f, "constant"),
            Schedule::Step { every, gamma } => write!(f, "step:{every}:{gamma}"),
            Schedule::Exponential { gamma } => write!(f, "exponential:{gamma}"),
            Schedule::Cosine { t_max, min } => write!(f, "cosine:{t_max}:{min}"),
            Schedule::Plateau { patience, factor } => write!(f, "plateau:{patience}:{factor}"),
        }
    }
}

impl FromStr for Schedule {
    type Err = Error;

    /// Parses the command line's form; `cosine:T_MAX` means a minimum of 0.
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let expected = "expected constant, step:EVERY:GAMMA, exponential:GAMMA, cosine:T_MAX[:MIN_LR] or plateau:PATIENCE:FACTOR";
        let bad = || Error::config("lr-schedule", format!("`{s}`: {expected}"));
        let count = |t: &str| t.parse::<usize>().map_err(|_| bad());
        let number = |t: &str| t.parse::<f64>().map_err(|_| bad());
        let schedule = match parts.as_slice() {
            ["constant"] => Schedule::Constant,
            ["step", every, gamma] => Schedule::Step {
                every: count(every)?,
                gamma: number(gamma)?,
            },
            ["exponential", gamma] => Schedule::Exponential {
                gamma: number(gamma)?,
            },
            ["cosine", t_max] => Schedule::Cosine {
                t_max: count(t_max)?,
                min: 0.0,
            },
            ["cosine", t_max, min] => Schedule::Cosine {
                t_max: count(t_max)?,
                min: number(min)?,
            },
            ["plateau", patience, factor] => Schedule::Plateau {
                patience: count(patience)?,
                factor: number(factor)?,
            },
            _ => return Err(bad()),
        };
        schedule.validate()?;
        Ok(schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::{LrScheduler, Schedule};

    /// The plateau rule of PyTorch's `ReduceLROnPlateau(mode="min",
    /// threshold=1e-4, threshold_mode="rel", eps=1e-8)`: an epoch improves
    /// when its loss is below `best * (1 - 1e-4)` (equal is no improvement);
    /// after more than `patience` epochs without one the rate is multiplied
    /// by `factor`, unless that changes it by 1e-8 or less. Traced by hand.
    #[test]
    fn the_plateau_schedule_follows_reduce_lr_on_plateau() {
        let mut s = LrScheduler::new(
            Schedule::Plateau {
                patience: 1,
                factor: 0.5,
            },
            1.0,
        );
        let mut lrs = vec![];
        for loss in [1.0, 1.0, 1.0, 0.5 * (1.0 - 1e-4), 0.5, 0.4, 0.4, 0.4] {
            s.step(loss);
            lrs.push(s.lr());
        }
        // 1.0: best. 1.0, 1.0: two bad epochs (> patience 1): halved.
        // 0.5 (1 - 1e-4) is below 1 (1 - 1e-4): best. 0.5 is not below
        // 0.49995 (1 - 1e-4): bad. 0.4: best. 0.4, 0.4: halved.
        assert_eq!(lrs, [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25]);
        // A loss exactly at best * (1 - 1e-4) is no improvement.
        let mut s = LrScheduler::new(
            Schedule::Plateau {
                patience: 0,
                factor: 0.5,
            },
            1.0,
        );
        s.step(1.0);
        assert_eq!(s.lr(), 1.0);
        s.step(1.0 - 1e-4);
        assert_eq!(s.lr(), 0.5);
        // A change of 1e-8 or less is not made.
        let mut s = LrScheduler::new(
            Schedule::Plateau {
                patience: 0,
                factor: 0.5,
            },
            1.5e-8,
        );
        s.step(1.0);
        s.step(1.0);
        assert_eq!(s.lr(), 1.5e-8);
        // Nor one of exactly 1e-8 (PyTorch: `if old_lr - new_lr > eps`):
        // 2e-8 halved is 1e-8, and so is the change, to the last bit.
        let mut s = LrScheduler::new(
            Schedule::Plateau {
                patience: 0,
                factor: 0.5,
            },
            2e-8,
        );
        s.step(1.0);
        s.step(1.0);
        assert_eq!(2e-8 - 2e-8 * 0.5, 1e-8);
        assert_eq!(s.lr(), 2e-8);
        let mut s = LrScheduler::new(
            Schedule::Plateau {
                patience: 0,
                factor: 0.5,
            },
            4e-8,
        );
        s.step(1.0);
        s.step(1.0);
        assert_eq!(s.lr(), 2e-8);
    }

    /// Cosine annealing's closed form, `min + (lr0 - min) (1 + cos(pi e /
    /// T)) / 2`, which PyTorch's recursive `CosineAnnealingLR` follows, also
    /// past `T` (up again) and past `2 T`.
    #[test]
    fn cosine_annealing_follows_its_closed_form_over_several_periods() {
        let (t, min, lr0) = (4usize, 0.1, 1.0);
        let c = Schedule::Cosine { t_max: t, min };
        for e in 0..=13 {
            let want = min
                + (lr0 - min) * (1.0 + (std::f64::consts::PI * e as f64 / t as f64).cos()) / 2.0;
            let got = c.lr(lr0, e);
            assert!((got - want).abs() < 1e-12, "epoch {e}: {got} vs {want}");
        }
    }

    #[test]
    fn validate_takes_the_documented_ranges() {
        let ok = |s: Schedule| s.validate().is_ok();
        assert!(ok(Schedule::Constant));
        assert!(ok(Schedule::Step {
            every: 1,
            gamma: 0.5
        }));
        assert!(!ok(Schedule::Step {
            every: 0,
            gamma: 0.5
        }));
        for g in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            assert!(!ok(Schedule::Step { every: 1, gamma: g }), "{g}");
            assert!(!ok(Schedule::Exponential { gamma: g }), "{g}");
        }
        assert!(ok(Schedule::Exponential { gamma: 1e-300 }));
        assert!(ok(Schedule::Cosine { t_max: 1, min: 0.0 }));
        assert!(!ok(Schedule::Cosine { t_max: 0, min: 0.0 }));
        for m in [-1e-300, f64::INFINITY, f64::NAN] {
            assert!(!ok(Schedule::Cosine { t_max: 1, min: m }), "{m}");
        }
        for (f, fine) in [
            (0.5, true),
            (1e-9, true),
            (0.0, false),
            (1.0, false),
            (-0.5, false),
        ] {
            let s = Schedule::Plateau {
                patience: 0,
                factor: f,
            };
            assert_eq!(ok(s), fine, "{f}");
        }
    }

    /// `cosine:T_MAX` is `cosine:T_MAX:0`, and prints so.
    #[test]
    fn cosine_without_a_minimum_has_minimum_zero() {
        let s: Schedule = "cosine:10".parse().unwrap();
        assert_eq!(
            s,
            Schedule::Cosine {
                t_max: 10,
                min: 0.0
            }
        );
        assert_eq!(s.to_string(), "cosine:10:0");
        assert!("cosine".parse::<Schedule>().is_err());
    }
}
