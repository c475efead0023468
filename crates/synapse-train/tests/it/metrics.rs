//! Metrics against scikit-learn (1.x), computed independently from the same
//! outputs and targets by this script (every call as written, every figure
//! printed with `repr`):
//!
//! ```python
//! import numpy as np
//! from sklearn.metrics import (accuracy_score, precision_score, recall_score, f1_score,
//!     confusion_matrix, mean_squared_error, mean_absolute_error, root_mean_squared_error,
//!     r2_score)
//! # Cross-entropy: the class is the arg-max of the logits.
//! logits = np.array([[2.0,1.0,0.1,-1.0],[0.5,2.5,0.2,0.0],[0.1,0.2,3.0,0.0],[1.5,1.4,0.0,0.0],
//!     [0.0,0.1,0.2,2.0],[3.0,0.0,0.0,0.0],[0.0,0.0,1.0,0.5],[0.2,0.1,0.0,-0.5],[0.0,1.0,0.9,0.0],
//!     [1.0,0.0,2.0,0.0]])
//! y = np.array([0,1,2,1,2,0,2,1,1,0]); pred = logits.argmax(1)
//! print(repr(accuracy_score(y, pred)))                                      # 0.6
//! print(repr(precision_score(y, pred, average='macro', zero_division=0)))   # 0.5416666666666666
//! print(repr(recall_score(y, pred, average='macro', zero_division=0)))      # 0.45833333333333326
//! print(repr(f1_score(y, pred, average='macro', zero_division=0)))          # 0.47619047619047616
//! print(confusion_matrix(y, pred, labels=[0,1,2,3]).tolist())
//! # [[2, 0, 1, 0], [2, 2, 0, 0], [0, 0, 2, 1], [0, 0, 0, 0]]
//! # bce-logits: the class is `o >= 0` against `t >= 0.5`.
//! o = np.array([0.3,-1.2,2.0,-0.1,0.0,1.1,-0.4,0.8]); t = np.array([1,0,1,1,0,0,0,1.0])
//! pb, tb = (o >= 0).astype(int), (t >= 0.5).astype(int)
//! print(repr(accuracy_score(tb, pb)))                                       # 0.625
//! print(repr(precision_score(tb, pb, average='macro', zero_division=0)))    # 0.6333333333333333
//! print(repr(recall_score(tb, pb, average='macro', zero_division=0)))       # 0.625
//! print(repr(f1_score(tb, pb, average='macro', zero_division=0)))           # 0.6190476190476191
//! # Regression, two output columns (multioutput='uniform_average', the default).
//! out = np.array([[1.0,2.0],[2.5,0.0],[3.0,-1.0],[0.5,4.0],[2.0,2.0]])
//! yt = np.array([[1.2,2.5],[2.0,0.5],[2.9,-2.0],[1.0,3.0],[2.0,1.0]])
//! print(repr(mean_squared_error(yt, out)))                                  # 0.40499999999999997
//! print(repr(mean_absolute_error(yt, out)))                                 # 0.53
//! print(repr(root_mean_squared_error(yt, out)))                             # 0.5841612527848078
//! print(repr(r2_score(yt, out)))                                            # 0.7669044665012407
//! # One output column: rmse is sqrt(mse).
//! print(repr(root_mean_squared_error(yt[:, :1], out[:, :1])))               # 0.33166247903554
//! ```

use candle_core::{Device, Tensor};
use synapse_nn::Loss;
use synapse_train::{Confusion, Metrics};

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("the figure is computed");
    assert!((a - b).abs() <= 1e-15 * b.abs().max(1.0), "{a} vs {b}");
}

#[test]
fn classifier_figures_match_scikit_learn() {
    let dev = Device::Cpu;
    let logits = Tensor::new(
        &[
            [2.0f64, 1.0, 0.1, -1.0],
            [0.5, 2.5, 0.2, 0.0],
            [0.1, 0.2, 3.0, 0.0],
            [1.5, 1.4, 0.0, 0.0],
            [0.0, 0.1, 0.2, 2.0],
            [3.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.5],
            [0.2, 0.1, 0.0, -0.5],
            [0.0, 1.0, 0.9, 0.0],
            [1.0, 0.0, 2.0, 0.0],
        ],
        &dev,
    )
    .unwrap();
    let y = Tensor::new(&[0f64, 1., 2., 1., 2., 0., 2., 1., 1., 0.], &dev)
        .unwrap()
        .unsqueeze(1)
        .unwrap();
    let m = Metrics::compute(Loss::CrossEntropy, &logits, &y).unwrap();
    close(m.accuracy, 0.6);
    close(m.precision, 0.5416666666666666);
    close(m.recall, 0.45833333333333326);
    close(m.f1, 0.47619047619047616);
    assert_eq!((m.mse, m.r2), (None, None));
    let c = Confusion::of(Loss::CrossEntropy, &logits, &y)
        .unwrap()
        .unwrap();
    assert_eq!(
        c.counts,
        [[2, 0, 1, 0], [2, 2, 0, 0], [0, 0, 2, 1], [0, 0, 0, 0]]
    );
}

#[test]
fn binary_figures_match_scikit_learn() {
    let dev = Device::Cpu;
    let o = Tensor::new(&[0.3f64, -1.2, 2.0, -0.1, 0.0, 1.1, -0.4, 0.8], &dev)
        .unwrap()
        .unsqueeze(1)
        .unwrap();
    let t = Tensor::new(&[1f64, 0., 1., 1., 0., 0., 0., 1.], &dev)
        .unwrap()
        .unsqueeze(1)
        .unwrap();
    let m = Metrics::compute(Loss::BceLogits, &o, &t).unwrap();
    close(m.accuracy, 0.625);
    close(m.precision, 0.6333333333333333);
    close(m.recall, 0.625);
    close(m.f1, 0.6190476190476191);
}

#[test]
fn regression_figures_match_scikit_learn() {
    let dev = Device::Cpu;
    let out = Tensor::new(
        &[
            [1.0f64, 2.0],
            [2.5, 0.0],
            [3.0, -1.0],
            [0.5, 4.0],
            [2.0, 2.0],
        ],
        &dev,
    )
    .unwrap();
    let y = Tensor::new(
        &[
            [1.2f64, 2.5],
            [2.0, 0.5],
            [2.9, -2.0],
            [1.0, 3.0],
            [2.0, 1.0],
        ],
        &dev,
    )
    .unwrap();
    let m = Metrics::compute(Loss::Mse, &out, &y).unwrap();
    close(m.mse, 0.40499999999999997);
    close(m.mae, 0.53);
    close(m.rmse, 0.5841612527848078);
    close(m.r2, 0.7669044665012407);
    close(Some(m.loss), 0.40499999999999997);
    assert_eq!(m.accuracy, None);
    let first = |t: &Tensor| t.narrow(1, 0, 1).unwrap();
    let one = Metrics::compute(Loss::Mse, &first(&out), &first(&y)).unwrap();
    close(one.rmse, 0.33166247903554);
}

/// `Trainer::evaluate` reads its rows in chunks of at most 4 Mi output
/// values: outputs of 2^20 values a row are read 4 rows at a time, so 5 rows
/// are two chunks (4 and the last 1), and the figures are those of all 5
/// rows at once.
#[test]
fn evaluate_reads_a_last_short_chunk() {
    use candle_core::DType;
    use synapse_nn::{ArchSpec, Init, Sequential, Sgd, SgdConfig};
    use synapse_train::{Dataset, TrainConfig, Trainer};
    let width = 1 << 20;
    let spec: ArchSpec = format!("linear(1,{width})").parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 3, DType::F32, &Device::Cpu).unwrap();
    let x = Tensor::new(&[[0.5f32], [1.0], [-1.0], [2.0], [0.25]], &Device::Cpu).unwrap();
    let values: Vec<f32> = (0..5 * width).map(|i| ((i % 97) as f32) / 97.0).collect();
    let y = Tensor::from_vec(values, (5, width), &Device::Cpu).unwrap();
    let whole = Metrics::compute(
        Loss::Mse,
        &net.forward(&x, synapse_nn::Mode::Eval).unwrap(),
        &y,
    )
    .unwrap();
    let sgd = Sgd::new(net.parameters(), SgdConfig::default()).unwrap();
    let trainer = Trainer::new(net, Loss::Mse, Box::new(sgd), TrainConfig::default()).unwrap();
    let m = trainer.evaluate(&Dataset::new(x, y).unwrap()).unwrap();
    assert!(
        (m.loss - whole.loss).abs() <= 1e-6 * whole.loss.abs().max(1.0),
        "{} vs {}",
        m.loss,
        whole.loss
    );
    close(m.r2, whole.r2.unwrap());
}
