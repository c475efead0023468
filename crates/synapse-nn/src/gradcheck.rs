//! Finite-difference gradient checking, in f64.
//!
//! For a scalar function `f` of some variables, compares autodiff's `df/dv_i`
//! with the central difference `(f(v + h e_i) - f(v - h e_i)) / 2h`, element by
//! element. The error of an element is `|a - n| / max(1, |a|, |n|)` (absolute
//! near zero, relative for large gradients).
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use synapse_nn::gradcheck;
//! let x = Var::from_tensor(&Tensor::new(&[0.3f64, -1.2], &Device::Cpu)?)?;
//! // f = sum tanh(x)^2; df/dx = 2 tanh(x) (1 - tanh(x)^2)
//! let report = gradcheck(|| Ok(x.tanh()?.sqr()?.sum_all()?), &[x.clone()], 1e-6)?;
//! assert!(report.max_error < 1e-8, "{report:?}");
//! # Ok::<(), synapse_nn::Error>(())
//! ```

use candle_core::{DType, Tensor, Var};

use crate::{Error, Result};

/// The outcome of [`gradcheck`]: the worst element found.
#[derive(Debug, Clone, PartialEq)]
pub struct GradCheckReport {
    /// Largest error over all elements.
    pub max_error: f64,
    /// Which variable (index into the slice) and element (flat index) it was:
    /// the first of equal errors.
    pub worst: (usize, usize),
    /// Autodiff's and the finite difference's value there.
    pub values: (f64, f64),
    /// Elements checked.
    pub checked: usize,
}

/// Checks autodiff gradients of the scalar `f` against central differences of step `h`.
/// Every variable must be f64; `f` must read them each time it is called.
pub fn gradcheck(f: impl Fn() -> Result<Tensor>, vars: &[Var], h: f64) -> Result<GradCheckReport> {
    for v in vars {
        if v.dtype() != DType::F64 {
            return Err(Error::DType {
                context: "gradcheck variable".into(),
                expected: DType::F64,
                got: v.dtype(),
            });
        }
    }
    let grads = f()?.backward()?;
    let mut report = GradCheckReport {
        max_error: 0.0,
        worst: (0, 0),
        values: (0.0, 0.0),
        checked: 0,
    };
    for (vi, var) in vars.iter().enumerate() {
        let shape = var.shape().clone();
        let base = var.as_tensor().flatten_all()?.to_vec1::<f64>()?;
        let analytic = match grads.get(var) {
            Some(g) => g.flatten_all()?.to_vec1::<f64>()?,
            None => vec![0.0; base.len()],
        };
        let eval_at = |i: usize, value: f64| -> Result<f64> {
            let mut moved = base.clone();
            moved[i] = value;
            var.set(&Tensor::from_vec(moved, shape.clone(), var.device())?)?;
            Ok(f()?.to_scalar::<f64>()?)
        };
        for i in 0..base.len() {
            let numeric = (eval_at(i, base[i] + h)? - eval_at(i, base[i] - h)?) / (2.0 * h);
            let a = analytic[i];
            let err = (a - numeric).abs() / 1f64.max(a.abs()).max(numeric.abs());
            if err > report.max_error || err.is_nan() {
                report.max_error = err;
                report.worst = (vi, i);
                report.values = (a, numeric);
            }
            report.checked += 1;
        }
        var.set(&Tensor::from_vec(base, shape, var.device())?)?;
    }
    Ok(report)
}
