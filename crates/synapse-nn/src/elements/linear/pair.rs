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
//! them, alive together at the step's peak. Here the graph holds two ops
//! joined by a token of one value: `head(x, W1, b1) -> token` and
//! `tail(token, W2, b2) -> y`, which share `h` (and GELU's kept slope) in a
//! [`Link`]. The tail's backward leaves `dh` in the link and gives candle a
//! zero for the token; the head's takes `dh` from the link. Every parameter
//! still gets its gradient from candle or [`crate::backward`]'s hand-over,
//! so a plain `loss.backward()` gets them all too.

use std::sync::{Arc, Mutex};

use candle_core::{
    CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Storage, Tensor,
};

use super::kernel::Dense;
use crate::backward::hand_over;
use crate::kernel::act::DenseAct;

/// What the two ops share: the hidden layer (outside any graph), and its
/// gradient from the tail's backward until the head's takes it.
struct Link {
    hidden: Tensor,
    grad: Mutex<Option<Tensor>>,
}

/// The first layer: `x, W1[, b1]` to the token; its backward is the
/// layer's, from the hidden gradient in the link.
struct Head {
    first: Dense,
    link: Arc<Link>,
}

/// The second layer: `token, W2[, b2]` to `y`, computed from the hidden
/// layer in the link.
struct Tail {
    second: Dense,
    link: Arc<Link>,
}

/// The token: one zero of the hidden layer's dtype.
fn token(link: &Link) -> Result<(CpuStorage, Shape)> {
    let storage = match link.hidden.dtype() {
        DType::F32 => CpuStorage::F32(vec![0.0]),
        DType::F64 => CpuStorage::F64(vec![0.0]),
        other => candle_core::bail!("dense pair: a {other:?} hidden layer"),
    };
    Ok((storage, Shape::from(1)))
}

/// The bias's gradient for candle (`None` when handed over, or without a
/// bias).
fn hand_over_bias(b: Option<&Tensor>, db: Option<Tensor>) -> Option<Tensor> {
    match (b, db) {
        (Some(b), Some(db)) => hand_over(b, db),
        _ => None,
    }
}

impl Head {
    /// `(dx, dW1, db1)` from the hidden gradient the tail left.
    fn backward(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = self.link.grad.lock().expect("dense pair link").take();
        let Some(dh) = grad else {
            candle_core::bail!("dense pair: the second layer's backward left no hidden gradient");
        };
        let (dx, dw, db) =
            self.first
                .backward((x, w, &self.link.hidden), &dh, b.is_some(), x.track_op())?;
        let db = hand_over_bias(b, db);
        Ok((dx, hand_over(w, dw), db))
    }
}

impl Tail {
    /// `y` from the hidden layer (the token's storage is not read).
    fn forward(
        &self,
        w: (&CpuStorage, &Layout),
        b: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        let (hidden, layout) = self.link.hidden.storage_and_layout();
        let Storage::Cpu(hidden) = &*hidden else {
            candle_core::bail!("dense pair: the hidden layer is not on the CPU");
        };
        self.second.dispatch((hidden, layout), w, b)
    }

    /// `(dtoken, dW2, db2)`; `dh` goes to the link (when the head needs it).
    fn backward(
        &self,
        token: &Tensor,
        (w, b): (&Tensor, Option<&Tensor>),
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let wanted = token.track_op();
        let (dh, dw, db) =
            self.second
                .backward((&self.link.hidden, w, y), dy, b.is_some(), wanted)?;
        *self.link.grad.lock().expect("dense pair link") = dh;
        let dtoken = if wanted {
            Some(token.zeros_like()?)
        } else {
            None
        };
        let db = hand_over_bias(b, db);
        Ok((dtoken, hand_over(w, dw), db))
    }
}

impl CustomOp3 for Head {
    fn name(&self) -> &'static str {
        "synapse-dense-pair-head"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        token(&self.link)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _token: &Tensor,
        _dtoken: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        self.backward(x, w, Some(b))
    }
}

impl CustomOp2 for Head {
    fn name(&self) -> &'static str {
        "synapse-dense-pair-head-nobias"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        token(&self.link)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _token: &Tensor,
        _dtoken: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = self.backward(x, w, None)?;
        Ok((dx, dw))
    }
}

impl CustomOp3 for Tail {
    fn name(&self) -> &'static str {
        "synapse-dense-pair-tail"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.forward((s2, l2), Some((s3, l3)))
    }

    fn bwd(
        &self,
        token: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        self.backward(token, (w, Some(b)), y, dy)
    }
}

impl CustomOp2 for Tail {
    fn name(&self) -> &'static str {
        "synapse-dense-pair-tail-nobias"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.forward((s2, l2), None)
    }

    fn bwd(
        &self,
        token: &Tensor,
        w: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dtoken, dw, _) = self.backward(token, (w, None), y, dy)?;
        Ok((dtoken, dw))
    }
}

/// One dense layer's parameters and the activation its kernel applies.
pub(crate) type Layer<'a> = (&'a Tensor, Option<&'a Tensor>, DenseAct);

/// `act2(act1(x W1^T + b1) W2^T + b2)` as the linked pair of ops (CPU,
/// f32/f64: the caller decided with `kernel::use_kernel`), for `x` of any
/// rank of at least 2.
pub(crate) fn dense_pair(x: &Tensor, first: Layer<'_>, second: Layer<'_>) -> Result<Tensor> {
    crate::kernel::count_call("dense-pair");
    let x = super::kernel::rows_input(x)?;
    let ((w1, b1, act1), (w2, b2, act2)) = (first, second);
    let first = Dense::new(act1);
    // The hidden layer, outside the graph: the head carries its gradients.
    let hidden = match b1 {
        Some(b1) => x.apply_op3_no_bwd(w1, b1, &first)?,
        None => x.apply_op2_no_bwd(w1, &first)?,
    };
    let link = Arc::new(Link {
        hidden,
        grad: Mutex::new(None),
    });
    let head = Head {
        first,
        link: Arc::clone(&link),
    };
    let token = match b1 {
        Some(b1) => x.apply_op3(w1, b1, head)?,
        None => x.apply_op2(w1, head)?,
    };
    let tail = Tail {
        second: Dense::new(act2),
        link,
    };
    match b2 {
        Some(b2) => token.apply_op3(w2, b2, tail),
        None => token.apply_op2(w2, tail),
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor, Var};

    use super::*;
    use crate::kernel::act::KernelAct;
    use crate::testing::flat;

    /// A tensor of `dims` with varied values, as `dtype`.
    fn values(dims: &[usize], seed: f64, dtype: DType) -> Tensor {
        let n: usize = dims.iter().product();
        let v: Vec<f64> = (0..n).map(|i| (seed + 0.37 * i as f64).sin()).collect();
        Tensor::from_vec(v, dims, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap()
    }

    /// `y`, then the gradients of `sum(y * c)` for each parameter and for
    /// `x` (when it is a variable), by `backward`.
    fn grads_of(y: &Tensor, wrt: &[&Tensor], synapse_backward: bool) -> Vec<Vec<f64>> {
        let c = values(y.dims(), 0.3, y.dtype());
        let loss = (y * c).unwrap().sum_all().unwrap();
        let grads = if synapse_backward {
            crate::backward(&loss).unwrap()
        } else {
            loss.backward().unwrap()
        };
        let mut out = vec![flat(y)];
        out.extend(wrt.iter().map(|t| flat(grads.get(t).expect("a gradient"))));
        out
    }

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
        let pair = dense_pair(&view, (&w1, None, gelu), (&w2, None, identity)).unwrap();
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
        let y = dense_pair(&x, (&w1, None, relu), (&w2, None, identity)).unwrap();
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
        let pair = dense_pair(&x, (&w1, None, gelu), (&w2, None, identity)).unwrap();
        assert_eq!(hidden_nodes(&pair), 0);
        let h = super::super::kernel::dense(&x, &w1, None, gelu).unwrap();
        let apart = super::super::kernel::dense(&h, &w2, None, identity).unwrap();
        assert_eq!(hidden_nodes(&apart), 1);
    }
}
