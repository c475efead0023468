//! Prediction outside training: a stack's outputs for inputs, in chunks of
//! rows in evaluation mode without gradients ([`predict`]), and the class
//! each output row predicts ([`predict_classes`]). The Trainer's
//! `predict` and the command line's `predict` and `eval` call these.

use candle_core::{Tensor, D};
use synapse_nn::{Loss, Mode, Sequential};

use crate::Result;

/// Rows per forward pass in `predict` and the Trainer's `evaluate`.
pub(crate) const EVAL_CHUNK: usize = 8192;

/// `net`'s outputs for `x`, in chunks of rows, detached from the graph.
/// Floats are cast to the model's dtype; ids (for a stack that starts with
/// `embedding`) are kept as they are.
pub fn predict(net: &Sequential, x: &Tensor) -> Result<Tensor> {
    let x = x.to_device(net.device())?;
    let x = if net.takes_ids() && !x.dtype().is_float() {
        x
    } else {
        x.to_dtype(net.dtype())?
    };
    let n = x.dim(0)?;
    // mutants: `>` is equivalent: the chunks only bound the memory of one
    // forward; in evaluation mode each row's outputs are computed from that
    // row alone, the same in a chunk or in the whole.
    if n <= EVAL_CHUNK {
        return Ok(net.forward(&x, Mode::Eval)?.detach());
    }
    let mut outs = Vec::new();
    for start in (0..n).step_by(EVAL_CHUNK) {
        let len = EVAL_CHUNK.min(n - start);
        outs.push(net.forward(&x.narrow(0, start, len)?, Mode::Eval)?.detach());
    }
    Ok(Tensor::cat(&outs, 0)?)
}

/// The predicted class per row: the arg-max of the outputs, or for a single
/// output the threshold (`>= 0.5` after a sigmoid, else `>= 0`).
pub fn predict_classes(net: &Sequential, loss: Option<Loss>, out: &Tensor) -> Result<Vec<usize>> {
    let k = out.dim(1)?;
    if k > 1 {
        return Ok(out
            .argmax(D::Minus1)?
            .to_dtype(candle_core::DType::F64)?
            .to_vec1::<f64>()?
            .into_iter()
            .map(|v| v as usize)
            .collect());
    }
    let probabilities = loss != Some(Loss::BceLogits)
        && matches!(
            net.layers().last(),
            Some(synapse_nn::Layer::Activation(
                synapse_nn::Activation::Sigmoid
            ))
        );
    let threshold = if probabilities { 0.5 } else { 0.0 };
    Ok(out
        .flatten_all()?
        .to_dtype(candle_core::DType::F64)?
        .to_vec1::<f64>()?
        .into_iter()
        .map(|v| usize::from(v >= threshold))
        .collect())
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};
    use synapse_nn::{ArchSpec, Init, Loss, Sequential};

    use super::predict_classes;

    fn net(spec: &str) -> Sequential {
        let spec: ArchSpec = spec.parse().unwrap();
        Sequential::init(&spec, Init::Torch, 1, DType::F64, &Device::Cpu).unwrap()
    }

    /// The doc's rule: the arg-max of several outputs; one output against
    /// 0.5 after a sigmoid (unless the loss takes logits), else against 0.
    #[test]
    fn classes_are_the_arg_max_or_the_threshold_of_one_output() {
        let out = Tensor::new(
            &[[0.1f64, 0.9, 0.3], [2.0, 1.0, 0.0], [0.0, 0.0, 5.0]],
            &Device::Cpu,
        )
        .unwrap();
        let three = net("linear(2,3)");
        assert_eq!(predict_classes(&three, None, &out).unwrap(), [1, 0, 2]);
        let one = Tensor::new(&[[-0.1f64], [0.0], [0.3], [0.5], [0.7]], &Device::Cpu).unwrap();
        let sigmoid = net("linear(2,1), sigmoid");
        assert_eq!(
            predict_classes(&sigmoid, Some(Loss::Bce), &one).unwrap(),
            [0, 0, 0, 1, 1]
        );
        assert_eq!(
            predict_classes(&sigmoid, None, &one).unwrap(),
            [0, 0, 0, 1, 1]
        );
        assert_eq!(
            predict_classes(&sigmoid, Some(Loss::BceLogits), &one).unwrap(),
            [0, 1, 1, 1, 1]
        );
        let linear = net("linear(2,1)");
        assert_eq!(
            predict_classes(&linear, Some(Loss::Mse), &one).unwrap(),
            [0, 1, 1, 1, 1]
        );
    }
}
