//! Learning-rate schedules, as functions of the epoch (0-based), like
//! PyTorch's `StepLR`, `ExponentialLR` and `CosineAnnealingLR` stepped once per epoch.
//!
//! | schedule | lr at epoch `e` |
//! | --- | --- |
//! | constant | `lr0` |
//! | step(every, gamma) | `lr0 * gamma^floor(e / every)` |
//! | exponential(gamma) | `lr0 * gamma^e` |
//! | cosine(t_max, min) | `min + (lr0 - min) (1 + cos(pi e / t_max)) / 2` |
//!
//! A pure function of the epoch, so a resumed run gets the same rates.

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
    /// Cosine annealing from `lr0` down to `min` over `t_max` epochs.
    Cosine {
        /// Epochs of one half period.
        t_max: usize,
        /// The lowest rate.
        min: f64,
    },
}

/// The command line's form: `constant`, `step:EVERY:GAMMA`, `exponential:GAMMA`,
/// `cosine:T_MAX:MIN_LR`.
impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Constant => write!(f, "constant"),
            Schedule::Step { every, gamma } => write!(f, "step:{every}:{gamma}"),
            Schedule::Exponential { gamma } => write!(f, "exponential:{gamma}"),
            Schedule::Cosine { t_max, min } => write!(f, "cosine:{t_max}:{min}"),
        }
    }
}

impl Schedule {
    /// The rate for `epoch` (0-based) given the initial rate `lr0`.
    pub fn lr(&self, lr0: f64, epoch: usize) -> f64 {
        match *self {
            Schedule::Constant => lr0,
            Schedule::Step { every, gamma } => lr0 * gamma.powi((epoch / every.max(1)) as i32),
            Schedule::Exponential { gamma } => lr0 * gamma.powi(epoch as i32),
            Schedule::Cosine { t_max, min } => {
                let t = epoch.min(t_max.max(1)) as f64 / t_max.max(1) as f64;
                min + (lr0 - min) * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
            }
        }
    }
}
