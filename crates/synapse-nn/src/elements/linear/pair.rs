//! Two dense layers in a row, with the hidden layer kept out of candle's
//! graph: `h = act1(x W1^T + b1)`, `y = act2(h W2^T + b2)` (a transformer's
//! MLP block `linear, gelu, linear`, or any two linear layers of a stack one
//! after the other, each with the activation its kernel applies).
//!
//! Shapes: `x` `[..., in]`, `W1` `[hid, in]`, `b1` `[hid]`, `h` `[..., hid]`,
//! `W2` `[out, hid]`, `b2` `[out]`, `y` `[..., out]`. Backward, from `dy`:
//! ```text
//! dz2 = dy * act2'    dW2 = dz2^T h    db2 = sum_rows dz2    dh = dz2 W2
//! dz1 = dh * act1'    dW1 = dz1^T x    db1 = sum_rows dz1    dx = dz1 W1
//! ```
//! each line the dense kernel's own (`kernel.rs`), so the values are those
//! of the two layers' stages one after the other, bit for bit.
//!
//! Why: candle sums every gradient into its store as `zeros_like(t) +
//! grad`. For the hidden layer, four times a transformer's width, that is
//! two more tensors of its size every step, a zero fill and a pass over
//! them, alive together at the step's peak. The two layers run as the
//! linked ops of `link.rs` (the head the first layer's kernel, which keeps
//! GELU's slope in its output), so `h` is never a node of candle's graph.

use candle_core::{Result, Tensor};

use super::kernel::Dense;
use super::link::Layer;

/// `act2(act1(x W1^T + b1) W2^T + b2)` as the linked ops of `link.rs`, the
/// head the first layer's dense kernel (CPU, f32/f64: the caller decided
/// with `kernel::use_kernel`), for `x` of any rank of at least 2; with
/// `join`, `join + ..` (the residual join: `act2` the identity).
pub(crate) fn dense_pair(
    x: &Tensor,
    first: Layer<'_>,
    second: Layer<'_>,
    join: Option<&Tensor>,
) -> Result<Tensor> {
    crate::kernel::count_call("dense-pair");
    let x = super::kernel::rows_input(x)?;
    let (w1, b1, act1) = first;
    let op = Dense::new(act1);
    match b1 {
        Some(b1) => super::link::linked3((&x, w1, b1), op, second, join),
        None => super::link::linked2((&x, w1), op, second, join),
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Tensor, Var};

    use super::*;
    use crate::kernel::act::{DenseAct, KernelAct};
    use crate::testing::{flat, grads_of, values};

    /// The linked pair gives the values of the two layers' own dense
    /// kernels one after the other (the Dense stages it replaces): the
    /// output, every parameter's gradient and the input's, with a plain
    /// `loss.backward()` and with [`crate::backward`]'s hand-over, f32 and
    /// f64, biases on either layer or not, inputs of rank 2 and 3, the
    /// GELUs and the activations whose slope comes from their output.
    #[test]
    fn the_pair_gives_the_values_of_its_two_layers_one_after_the_other() {
        let acts = [
            (DenseAct::Gelu, DenseAct::Out(KernelAct::Identity)),
            (
                DenseAct::Out(KernelAct::Relu),
                DenseAct::Out(KernelAct::Sigmoid),
            ),
            (DenseAct::GeluTanh, DenseAct::Out(KernelAct::Tanh)),
        ];
        for dtype in [DType::F32, DType::F64] {
            for (bias1, bias2) in [(true, true), (false, true), (true, false)] {
                for (act1, act2) in acts {
                    for x_dims in [&[6usize, 5][..], &[2, 3, 5]] {
                        let var = |dims: &[usize], seed| {
                            Var::from_tensor(&values(dims, seed, dtype)).unwrap()
                        };
                        let x = var(x_dims, 0.1);
                        let (w1, w2) = (var(&[7, 5], 1.0), var(&[4, 7], 2.0));
                        let b1 = bias1.then(|| var(&[7], 3.0));
                        let b2 = bias2.then(|| var(&[4], 4.0));
                        let (b1t, b2t) = (
                            b1.as_ref().map(|b| b.as_tensor()),
                            b2.as_ref().map(|b| b.as_tensor()),
                        );
                        let mut wrt = vec![x.as_tensor(), w1.as_tensor(), w2.as_tensor()];
                        wrt.extend(b1t);
                        wrt.extend(b2t);
                        let context = format!(
                            "{dtype:?} bias {bias1}/{bias2} {act1:?}/{act2:?} x {x_dims:?}"
                        );
                        for synapse_backward in [false, true] {
                            let pair = dense_pair(
                                x.as_tensor(),
                                (w1.as_tensor(), b1t, act1),
                                (w2.as_tensor(), b2t, act2),
                                None,
                            )
                            .unwrap();
                            let h =
                                super::super::kernel::dense(x.as_tensor(), &w1, b1t, act1).unwrap();
                            let apart = super::super::kernel::dense(&h, &w2, b2t, act2).unwrap();
                            assert_eq!(
                                grads_of(&pair, &wrt, synapse_backward),
                                grads_of(&apart, &wrt, synapse_backward),
                                "{context}, synapse backward {synapse_backward}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The residual join (`link.rs`): `r + pair(x)` with the add in the
    /// second layer's output buffer gives the values of the pair and
    /// candle's add after it, bit for bit: the output and the gradients of
    /// `x`, `r` and every parameter, f32 and f64, both backwards; and the
    /// branch's output is not a node of the graph (one node of `r`'s shape
    /// less, besides `r` and the sum).
    #[test]
    fn the_residual_join_gives_the_values_of_the_pair_and_an_add() {
        for dtype in [DType::F32, DType::F64] {
            for synapse_backward in [false, true] {
                let var =
                    |dims: &[usize], seed| Var::from_tensor(&values(dims, seed, dtype)).unwrap();
                let (x, r) = (var(&[2, 3, 5], 0.1), var(&[2, 3, 4], 0.7));
                let (w1, b1) = (var(&[7, 5], 1.0), var(&[7], 3.0));
                let (w2, b2) = (var(&[4, 7], 2.0), var(&[4], 4.0));
                let identity = DenseAct::Out(KernelAct::Identity);
                let first = (w1.as_tensor(), Some(b1.as_tensor()), DenseAct::Gelu);
                let second = (w2.as_tensor(), Some(b2.as_tensor()), identity);
                let wrt = [&x, &r, &w1, &b1, &w2, &b2].map(|v| v.as_tensor());
                let joined = dense_pair(&x, first, second, Some(&r)).unwrap();
                let apart = (r.as_tensor() + dense_pair(&x, first, second, None).unwrap()).unwrap();
                assert_eq!(
                    grads_of(&joined, &wrt, synapse_backward),
                    grads_of(&apart, &wrt, synapse_backward),
                    "{dtype:?}, synapse backward {synapse_backward}"
                );
                let nodes = |y: &Tensor| {
                    y.sorted_nodes()
                        .iter()
                        .filter(|t| t.dims() == [2, 3, 4])
                        .count()
                };
                assert_eq!((nodes(&joined), nodes(&apart)), (2, 3));
            }
        }
    }

    /// An input of rank 3 that is a view, not contiguous (a transposed
    /// `[T, B, in]`), is made contiguous first, as by the dense kernel:
    /// the same values as the two layers apart.
    #[test]
    fn a_view_of_rank_3_gives_the_values_of_the_layers_apart() {
        let x = Var::from_tensor(&values(&[3, 2, 5], 0.1, DType::F64)).unwrap();
        let view = x.transpose(0, 1).unwrap();
        assert!(!view.is_contiguous());
        let w1 = Var::from_tensor(&values(&[7, 5], 1.0, DType::F64)).unwrap();
        let w2 = Var::from_tensor(&values(&[4, 7], 2.0, DType::F64)).unwrap();
        let (gelu, identity) = (DenseAct::Gelu, DenseAct::Out(KernelAct::Identity));
        let wrt = [x.as_tensor(), w1.as_tensor(), w2.as_tensor()];
        let pair = dense_pair(&view, (&w1, None, gelu), (&w2, None, identity), None).unwrap();
        let h = super::super::kernel::dense(&view, &w1, None, gelu).unwrap();
        let apart = super::super::kernel::dense(&h, &w2, None, identity).unwrap();
        assert_eq!(grads_of(&pair, &wrt, false), grads_of(&apart, &wrt, false));
    }

    /// The input's gradient is left out when the input is data (not a
    /// variable, nothing before it to train), as by the dense kernel: the
    /// parameters' gradients are the same.
    #[test]
    fn an_input_without_a_gradient_gets_none() {
        let x = values(&[6, 5], 0.1, DType::F64);
        let w1 = Var::from_tensor(&values(&[7, 5], 1.0, DType::F64)).unwrap();
        let w2 = Var::from_tensor(&values(&[4, 7], 2.0, DType::F64)).unwrap();
        let relu = DenseAct::Out(KernelAct::Relu);
        let identity = DenseAct::Out(KernelAct::Identity);
        let y = dense_pair(&x, (&w1, None, relu), (&w2, None, identity), None).unwrap();
        let grads = y.sum_all().unwrap().backward().unwrap();
        assert!(grads.get(&x).is_none());
        let h = super::super::kernel::dense(&x, &w1, None, relu).unwrap();
        let apart = super::super::kernel::dense(&h, &w2, None, identity).unwrap();
        let want = apart.sum_all().unwrap().backward().unwrap();
        for w in [&w1, &w2] {
            assert_eq!(flat(grads.get(w).unwrap()), flat(want.get(w).unwrap()));
        }
    }

    /// The point of the pair: no tensor of the hidden layer's shape is a
    /// node of candle's graph (so its store never sums a gradient of that
    /// size), where the two layers apart have one.
    #[test]
    fn the_hidden_layer_is_not_in_the_graph() {
        let x = Var::from_tensor(&values(&[6, 5], 0.1, DType::F32)).unwrap();
        let w1 = Var::from_tensor(&values(&[9, 5], 1.0, DType::F32)).unwrap();
        let w2 = Var::from_tensor(&values(&[4, 9], 2.0, DType::F32)).unwrap();
        let gelu = DenseAct::Gelu;
        let identity = DenseAct::Out(KernelAct::Identity);
        let hidden_nodes = |y: &Tensor| {
            y.sorted_nodes()
                .iter()
                .filter(|t| t.dims() == [6, 9])
                .count()
        };
        let pair = dense_pair(&x, (&w1, None, gelu), (&w2, None, identity), None).unwrap();
        assert_eq!(hidden_nodes(&pair), 0);
        let h = super::super::kernel::dense(&x, &w1, None, gelu).unwrap();
        let apart = super::super::kernel::dense(&h, &w2, None, identity).unwrap();
        assert_eq!(hidden_nodes(&apart), 1);
    }
}
