//! Metrics of a stack's outputs against targets.
//!
//! | loss | figures |
//! | --- | --- |
//! | `cross-entropy` | `accuracy`: share of rows whose arg-max is the class; macro `precision`, `recall`, `f1` |
//! | `bce` | the same over every element, the class being `out >= 0.5` against `y >= 0.5` |
//! | `bce-logits` | the same with `out >= 0` |
//! | `sse`, `mse` | `mse = mean (out - y)^2`, `mae = mean abs(out - y)`, `rmse`, `r2` |
//!
//! Macro averages follow scikit-learn's `average="macro"`: over the classes
//! that occur among the targets or the predictions, with a class's precision
//! (recall) 0 when it was never predicted (never true), and its
//! `f1 = 2 tp / (2 tp + fp + fn)`. `r2 = 1 - SS_res / SS_tot` per output column,
//! averaged over the columns; a constant column scores 1 when predicted
//! exactly, else 0 (scikit-learn's `r2_score`). `rmse` is each column's
//! `sqrt(mean (out - y)^2)` averaged over the columns (scikit-learn's
//! `root_mean_squared_error`; `sqrt(mse)` with one output column). `mse` and
//! `mae` over every element equal scikit-learn's column averages.

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};
use synapse_nn::Loss;

use crate::Result;

/// The figures of one evaluation; `loss` always, the others when they apply.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    /// The loss, as the training loss defines it.
    pub loss: f64,
    /// Classification accuracy in `[0, 1]`.
    pub accuracy: Option<f64>,
    /// Macro-averaged precision.
    #[serde(default)]
    pub precision: Option<f64>,
    /// Macro-averaged recall.
    #[serde(default)]
    pub recall: Option<f64>,
    /// Macro-averaged F1 score.
    #[serde(default)]
    pub f1: Option<f64>,
    /// Mean squared error.
    pub mse: Option<f64>,
    /// Mean absolute error.
    pub mae: Option<f64>,
    /// Root of the mean squared error.
    #[serde(default)]
    pub rmse: Option<f64>,
    /// Coefficient of determination, averaged over output columns.
    #[serde(default)]
    pub r2: Option<f64>,
}

impl Metrics {
    /// Computes the loss and the figures that fit it.
    pub fn compute(loss: Loss, out: &Tensor, target: &Tensor) -> Result<Self> {
        let value = scalar(&loss.forward(out, target)?)?;
        let mut m = Metrics {
            loss: value,
            ..Default::default()
        };
        if let Some((truth, pred, classes)) = classes_of(loss, out, target)? {
            let c = Confusion::new(&truth, &pred, classes);
            m.accuracy = Some(c.accuracy());
            let (p, r, f) = c.macro_scores();
            (m.precision, m.recall, m.f1) = (Some(p), Some(r), Some(f));
            return Ok(m);
        }
        let k = out.dims().last().copied().unwrap_or(1);
        let o = flat(out)?;
        let y = flat(target)?;
        let n = o.len().max(1) as f64;
        let mse = o
            .iter()
            .zip(&y)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            / n;
        m.mse = Some(mse);
        m.mae = Some(o.iter().zip(&y).map(|(a, b)| (a - b).abs()).sum::<f64>() / n);
        m.rmse = Some(rmse(&o, &y, k.max(1)));
        m.r2 = Some(r2(&o, &y, k.max(1)));
        Ok(m)
    }

    /// `name: value` pairs in print order: loss, then the classifier's or
    /// the regression's figures.
    pub fn figures(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![("loss", self.loss)];
        let rest = [
            ("accuracy", self.accuracy),
            ("precision", self.precision),
            ("recall", self.recall),
            ("f1", self.f1),
            ("mse", self.mse),
            ("mae", self.mae),
            ("rmse", self.rmse),
            ("r2", self.r2),
        ];
        out.extend(rest.into_iter().filter_map(|(n, v)| v.map(|v| (n, v))));
        out
    }
}

/// Counts of (true class, predicted class) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confusion {
    /// `counts[t][p]`: rows of true class `t` predicted as `p`.
    pub counts: Vec<Vec<usize>>,
}

impl Confusion {
    /// Counts `truth` against `pred`, classes `0..classes`.
    pub fn new(truth: &[usize], pred: &[usize], classes: usize) -> Self {
        let top = truth.iter().chain(pred).copied().max().map_or(0, |m| m + 1);
        let c = classes.max(top);
        let mut counts = vec![vec![0; c]; c];
        for (&t, &p) in truth.iter().zip(pred) {
            counts[t][p] += 1;
        }
        Self { counts }
    }

    /// The confusion of a classifier's outputs (`None` for regression losses).
    pub fn of(loss: Loss, out: &Tensor, target: &Tensor) -> Result<Option<Self>> {
        Ok(classes_of(loss, out, target)?.map(|(t, p, c)| Self::new(&t, &p, c)))
    }

    /// Adds another confusion's counts (grown to the larger number of classes).
    pub fn add(&mut self, other: &Confusion) {
        let c = self.counts.len().max(other.counts.len());
        for row in &mut self.counts {
            row.resize(c, 0);
        }
        self.counts.resize(c, vec![0; c]);
        for (t, row) in other.counts.iter().enumerate() {
            for (p, n) in row.iter().enumerate() {
                self.counts[t][p] += n;
            }
        }
    }

    /// Share of the diagonal.
    pub fn accuracy(&self) -> f64 {
        let total: usize = self.counts.iter().flatten().sum();
        let right: usize = (0..self.counts.len()).map(|i| self.counts[i][i]).sum();
        right as f64 / total.max(1) as f64
    }

    /// Macro precision, recall and F1 over the classes that occur.
    pub fn macro_scores(&self) -> (f64, f64, f64) {
        let c = self.counts.len();
        let (mut p, mut r, mut f, mut present) = (0.0, 0.0, 0.0, 0usize);
        for k in 0..c {
            let tp = self.counts[k][k] as f64;
            let truly: usize = self.counts[k].iter().sum();
            let predicted: usize = (0..c).map(|t| self.counts[t][k]).sum();
            if truly == 0 && predicted == 0 {
                continue;
            }
            present += 1;
            let (fp, fneg) = (predicted as f64 - tp, truly as f64 - tp);
            p += if predicted > 0 {
                tp / predicted as f64
            } else {
                0.0
            };
            r += if truly > 0 { tp / truly as f64 } else { 0.0 };
            let denom = 2.0 * tp + fp + fneg;
            // mutants: `>=` is equivalent: a class that occurs (true or
            // predicted) has tp + fp + fn > 0, so the denominator is never 0.
            f += if denom > 0.0 { 2.0 * tp / denom } else { 0.0 };
        }
        let n = present.max(1) as f64;
        (p / n, r / n, f / n)
    }
}

/// True classes, predicted classes (per row, or element for bce) and the class count.
type Classified = (Vec<usize>, Vec<usize>, usize);

/// The classes of a classifier's outputs; `None` for regression losses.
/// Cross-entropy's `[..., C]` outputs give one class per row (or position);
/// a target of -100 does not count.
fn classes_of(loss: Loss, out: &Tensor, target: &Tensor) -> Result<Option<Classified>> {
    Ok(match loss {
        Loss::CrossEntropy => {
            let c = out.dims().last().copied().unwrap_or(1);
            let rows = out.elem_count() / c.max(1);
            let pred = out
                .reshape((rows, c))?
                .argmax(1)?
                .to_dtype(DType::F64)?
                .to_vec1::<f64>()?;
            let truth = flat(target)?;
            let ignored = synapse_nn::IGNORE_INDEX as f64;
            let (truth, pred): (Vec<usize>, Vec<usize>) = truth
                .iter()
                .zip(&pred)
                .filter(|(t, _)| **t != ignored)
                .map(|(&t, &p)| (t as usize, p as usize))
                .unzip();
            Some((truth, pred, c))
        }
        Loss::Bce | Loss::BceLogits => {
            let threshold = if loss == Loss::Bce { 0.5 } else { 0.0 };
            let pred = flat(out)?;
            let truth = flat(target)?;
            Some((
                truth.iter().map(|&v| usize::from(v >= 0.5)).collect(),
                pred.iter().map(|&v| usize::from(v >= threshold)).collect(),
                2,
            ))
        }
        Loss::Sse | Loss::Mse => None,
    })
}

/// Metrics over chunks of rows (what evaluation walks when the outputs of
/// every row at once would take too much memory): one chunk gives exactly
/// [`Metrics::compute`]; several give the loss as the mean over every
/// counted row (each chunk's loss weighted by what it divides by: its
/// counted targets, or their class weights), classifiers' figures from the
/// summed confusion counts, and regression figures from all the outputs.
pub struct Tally {
    loss: Loss,
    weights: Option<Vec<f64>>,
    chunks: Vec<(Tensor, Tensor)>,
    added: usize,
    sum: f64,
    count: f64,
    confusion: Option<Confusion>,
}

impl Tally {
    /// An empty tally for `loss` (with cross-entropy class weights, if any).
    pub fn new(loss: Loss, weights: Option<&[f64]>) -> Self {
        Self {
            loss,
            weights: weights.map(<[f64]>::to_vec),
            chunks: Vec::new(),
            added: 0,
            sum: 0.0,
            count: 0.0,
            confusion: None,
        }
    }

    /// Adds a chunk of outputs and their targets.
    pub fn add(&mut self, out: &Tensor, target: &Tensor) -> Result<()> {
        let value = scalar(
            &self
                .loss
                .forward_weighted(out, target, self.weights.as_deref())?,
        )?;
        let den = match self.loss {
            Loss::Sse => 1.0,
            Loss::CrossEntropy => {
                let ignored = synapse_nn::IGNORE_INDEX as f64;
                flat(target)?
                    .iter()
                    .filter(|&&t| t != ignored)
                    .map(|&t| self.weights.as_ref().map_or(1.0, |w| w[t as usize]))
                    .sum()
            }
            _ => out.elem_count() as f64,
        };
        self.sum += value * den;
        self.count += den;
        if let Some((t, p, c)) = classes_of(self.loss, out, target)? {
            let chunk = Confusion::new(&t, &p, c);
            self.confusion = Some(match self.confusion.take() {
                None => chunk,
                Some(mut all) => {
                    all.add(&chunk);
                    all
                }
            });
        }
        // Regression keeps every chunk (its figures need all the outputs); a
        // classifier only the first (the exact figures when it is the only one).
        if self.confusion.is_none() || self.added == 0 {
            self.chunks.push((out.clone(), target.clone()));
        }
        // mutants: `*=` (the count stays 0) sends a one-chunk tally down the
        // general path, whose loss is `value * n / n`: the same value but
        // for a rounding that rarely shows (in none of 34 chunk sizes
        // tried). Left as a survivor, not excluded.
        self.added += 1;
        Ok(())
    }

    /// The figures of every chunk added.
    pub fn finish(self) -> Result<Metrics> {
        if self.added == 1 {
            let (out, target) = &self.chunks[0];
            let mut m = Metrics::compute(self.loss, out, target)?;
            if let Some(w) = &self.weights {
                m.loss = scalar(&self.loss.forward_weighted(out, target, Some(w))?)?;
            }
            return Ok(m);
        }
        let loss = match self.loss {
            Loss::Sse => self.sum,
            _ => self.sum / self.count.max(f64::MIN_POSITIVE),
        };
        if let Some(c) = &self.confusion {
            let (p, r, f) = c.macro_scores();
            return Ok(Metrics {
                loss,
                accuracy: Some(c.accuracy()),
                precision: Some(p),
                recall: Some(r),
                f1: Some(f),
                ..Default::default()
            });
        }
        let outs: Vec<Tensor> = self.chunks.iter().map(|(o, _)| o.clone()).collect();
        let targets: Vec<Tensor> = self.chunks.iter().map(|(_, t)| t.clone()).collect();
        let mut m = Metrics::compute(
            self.loss,
            &Tensor::cat(&outs, 0)?,
            &Tensor::cat(&targets, 0)?,
        )?;
        m.loss = loss;
        Ok(m)
    }
}

/// Mean over output columns of each column's root mean squared error.
fn rmse(out: &[f64], y: &[f64], k: usize) -> f64 {
    let rows = (y.len() / k).max(1) as f64;
    let column = |j: usize| {
        let ss: f64 = (j..y.len())
            .step_by(k)
            .map(|i| (y[i] - out[i]).powi(2))
            .sum();
        (ss / rows).sqrt()
    };
    (0..k).map(column).sum::<f64>() / k as f64
}

/// Mean over output columns of `1 - SS_res / SS_tot`.
fn r2(out: &[f64], y: &[f64], k: usize) -> f64 {
    let rows = y.len() / k;
    let mut total = 0.0;
    for j in 0..k {
        let col = |v: &[f64], i: usize| v[i * k + j];
        let mean = (0..rows).map(|i| col(y, i)).sum::<f64>() / rows.max(1) as f64;
        let ss_res: f64 = (0..rows).map(|i| (col(y, i) - col(out, i)).powi(2)).sum();
        let ss_tot: f64 = (0..rows).map(|i| (col(y, i) - mean).powi(2)).sum();
        total += if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else if ss_res == 0.0 {
            1.0
        } else {
            0.0
        };
    }
    total / k as f64
}

/// Every element as `f64`, row-major.
fn flat(t: &Tensor) -> Result<Vec<f64>> {
    Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}

/// A scalar tensor as `f64`.
pub fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};
    use synapse_nn::{Loss, IGNORE_INDEX};

    use super::Tally;

    fn column(v: &[f64]) -> Tensor {
        Tensor::new(v, &Device::Cpu).unwrap().unsqueeze(1).unwrap()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-15 * b.abs().max(1.0), "{a} vs {b}");
    }

    /// Several chunks: the loss is the mean over every counted element, as
    /// one chunk of all of them would give (by hand below).
    #[test]
    fn chunked_losses_are_the_mean_over_all_rows() {
        // Squared errors 1, 4 | 9: mse 14 / 3, sse (half the sum) 7.
        for (loss, want) in [(Loss::Mse, 14.0 / 3.0), (Loss::Sse, 7.0)] {
            let mut t = Tally::new(loss, None);
            t.add(&column(&[1.0, 2.0]), &column(&[0.0, 0.0])).unwrap();
            t.add(&column(&[3.0]), &column(&[0.0])).unwrap();
            let m = t.finish().unwrap();
            close(m.loss, want);
            close(m.mse.unwrap(), 14.0 / 3.0);
        }
        // Cross-entropy: logits [0, 0] cost ln 2 for either class, [0, ln 3]
        // costs ln 4 for class 0; the ignored row counts for nothing.
        let ln = f64::ln;
        let a = Tensor::new(&[[0.0f64, 0.0], [0.0, 0.0]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[[0.0f64, ln(3.0)]], &Device::Cpu).unwrap();
        let (ta, tb) = (column(&[1.0, IGNORE_INDEX as f64]), column(&[0.0]));
        for (weights, want) in [
            (None, (ln(2.0) + ln(4.0)) / 2.0),
            // Class 1 weighs 2, class 0 weighs 1: (2 ln 2 + ln 4) / 3.
            (Some(&[1.0, 2.0][..]), (2.0 * ln(2.0) + ln(4.0)) / 3.0),
        ] {
            let mut t = Tally::new(Loss::CrossEntropy, weights);
            t.add(&a, &ta).unwrap();
            t.add(&b, &tb).unwrap();
            let m = t.finish().unwrap();
            close(m.loss, want);
            // Row 0 predicted 0 (a tie goes to the first), truly 1; row 2
            // predicted 1, truly 0: no row right.
            close(m.accuracy.unwrap(), 0.0);
        }
    }

    /// A classifier's figures over several chunks are those of one chunk of
    /// all the rows (`Metrics::compute`, which scikit-learn's values check).
    #[test]
    fn chunked_class_figures_are_those_of_all_rows() {
        let dev = &Device::Cpu;
        let a = Tensor::new(&[[2.0f64, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dev).unwrap();
        let b = Tensor::new(&[[0.0f64, 3.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], dev).unwrap();
        let (ta, tb) = (column(&[0.0, 1.0, 1.0]), column(&[1.0, 2.0, 2.0]));
        let mut t = Tally::new(Loss::CrossEntropy, None);
        t.add(&a, &ta).unwrap();
        t.add(&b, &tb).unwrap();
        let m = t.finish().unwrap();
        let all = super::Metrics::compute(
            Loss::CrossEntropy,
            &Tensor::cat(&[&a, &b], 0).unwrap(),
            &Tensor::cat(&[&ta, &tb], 0).unwrap(),
        )
        .unwrap();
        for (got, want) in [
            (m.accuracy, all.accuracy),
            (m.precision, all.precision),
            (m.recall, all.recall),
            (m.f1, all.f1),
        ] {
            close(got.expect("a figure"), want.expect("a figure"));
        }
        close(m.loss, all.loss);
    }

    /// The figures in print order: the loss, then those the loss gives.
    #[test]
    fn figures_come_in_print_order_and_only_those_given() {
        let m = super::Metrics {
            loss: 0.5,
            accuracy: Some(0.75),
            f1: Some(0.6),
            ..Default::default()
        };
        assert_eq!(
            m.figures(),
            [("loss", 0.5), ("accuracy", 0.75), ("f1", 0.6)]
        );
    }

    /// Macro scores over the classes that occur: a class neither true nor
    /// predicted is left out. Counts [[2, 1, 0], [0, 3, 0], [0, 0, 0]]:
    /// precision (2/2 + 3/4) / 2, recall (2/3 + 3/3) / 2, F1 (4/5 + 6/7) / 2
    /// (sklearn's `average="macro"` over labels 0 and 1).
    #[test]
    fn macro_scores_leave_out_a_class_that_never_occurs() {
        let c = super::Confusion::new(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 1, 1], 3);
        assert_eq!(c.counts, [[2, 1, 0], [0, 3, 0], [0, 0, 0]]);
        let (p, r, f) = c.macro_scores();
        close(p, (1.0 + 0.75) / 2.0);
        close(r, (2.0 / 3.0 + 1.0) / 2.0);
        close(f, (0.8 + 6.0 / 7.0) / 2.0);
    }

    /// bce's outputs are probabilities (class 1 from 0.5), bce-logits' are
    /// logits (class 1 from 0): 0.3 is class 0 for the one, 1 for the other.
    #[test]
    fn bce_and_bce_logits_take_their_own_threshold() {
        let (out, target) = (column(&[0.3, 0.7]), column(&[0.0, 1.0]));
        let bce = super::Metrics::compute(Loss::Bce, &out, &target).unwrap();
        assert_eq!(bce.accuracy, Some(1.0));
        let logits = super::Metrics::compute(Loss::BceLogits, &out, &target).unwrap();
        assert_eq!(logits.accuracy, Some(0.5));
    }

    /// A classifier's tally of two chunks is the confusion of both: their
    /// loss the mean over all rows, their figures those of all rows (and
    /// not the first chunk's alone).
    #[test]
    fn a_classifiers_second_chunk_counts() {
        let mut t = Tally::new(Loss::BceLogits, None);
        t.add(&column(&[2.0, -2.0]), &column(&[1.0, 0.0])).unwrap();
        t.add(&column(&[2.0, 2.0]), &column(&[0.0, 0.0])).unwrap();
        let m = t.finish().unwrap();
        assert_eq!(m.accuracy, Some(0.5));
    }

    /// One chunk's tally is that chunk's loss, checked by hand: mse of the
    /// errors 0.5, 0.5 and -2 is (0.25 + 0.25 + 4) / 3 = 1.5; bce-logits of
    /// logits 0 is ln 2 whatever the targets.
    #[test]
    fn one_chunks_tally_is_its_loss_by_hand() {
        let mut t = Tally::new(Loss::Mse, None);
        t.add(&column(&[0.5, 1.5, -1.0]), &column(&[0.0, 1.0, 1.0]))
            .unwrap();
        assert_eq!(t.finish().unwrap().loss, 1.5);
        let mut t = Tally::new(Loss::BceLogits, None);
        t.add(&column(&[0.0, 0.0, 0.0]), &column(&[0.0, 1.0, 1.0]))
            .unwrap();
        close(t.finish().unwrap().loss, 2f64.ln());
    }
}
