//! A kernel op whose output feeds a dense layer, the two linked so that the
//! output between them stays out of candle's graph: `h = op(x, a[, b])`,
//! `y = act(h W^T + b2)`. Two users: the dense pair (`pair.rs`, `op` the
//! first dense layer) and a recurrent layer before its output layer
//! (`recurrent/kernel.rs`, `op` the whole sequence).
//!
//! Shapes: `h` `[..., hid]` as `op` makes it, `W` `[out, hid]`, `b2`
//! `[out]`, `y` `[..., out]`. Backward, from `dy`:
//! ```text
//! dz = dy * act'    dW = dz^T h    db2 = sum_rows dz    dh = dz W     (the tail)
//! op's own backward from dh                                             (the head)
//! ```
//! each the kernel's own, so the values are those of `op` and the dense
//! layer one after the other, bit for bit.
//!
//! Why: candle sums every gradient into its store as `zeros_like(t) +
//! grad`. For `h` that is two more tensors of its size every step, a zero
//! fill and a pass, alive at once beside `dh` at the step's peak (the
//! recurrent rows' peak, the MLP block's hidden layer). Here the graph
//! holds two ops joined by a token of one value: `head(x, a[, b]) -> token`
//! and `tail(token, W[, b2]) -> y`, which share `h` in a [`Link`]. The
//! tail's backward leaves `dh` in the link and gives candle a zero for the
//! token; the head's runs `op`'s backward from it. Every parameter still
//! gets its gradient from candle or [`crate::backward`]'s hand-over, so a
//! plain `loss.backward()` gets them all too.
//!
//! The residual join: a residual block whose branch ends in the tail (a
//! transformer's MLP block, `residual(layernorm, linear, gelu, linear)`)
//! adds its input `r` in the tail's own output buffer, `out = r + y`, so
//! the branch's output `y` is never a tensor beside the sum: the tail
//! gives a second token, which `join(r, token) -> out` takes with `y`'s
//! buffer from a [`Sum`]; its backward gives `dr = dout` to candle and
//! leaves `dout` for the tail (the dense layer's activation is the
//! identity there, so its backward needs no `y`).

use std::sync::{Arc, Mutex};

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Storage, Tensor,
};

use super::kernel::Dense;
use crate::backward::hand_over;
use crate::kernel::act::{DenseAct, KernelAct};
use crate::kernel::parallel::{for_each_part, ELEMENT_WORK};
use crate::kernel::storage::{contiguous, with_float, Real};

/// One dense layer's parameters and the activation its kernel applies.
pub(crate) type Layer<'a> = (&'a Tensor, Option<&'a Tensor>, DenseAct);

/// A dense layer as the element before it takes it (`Gates::kernel`, a
/// public trait): made only in this crate.
#[derive(Clone, Copy)]
pub struct Then<'a>(pub(crate) Layer<'a>);

/// What the two ops share: `h` (outside any graph), and its gradient from
/// the tail's backward until the head's takes it.
struct Link {
    hidden: Tensor,
    grad: Mutex<Option<Tensor>>,
}

impl Link {
    /// The gradient the tail left (taken: a second backward of the graph
    /// runs the tail again first).
    fn take_grad(&self, name: &str) -> Result<Tensor> {
        match locked(&self.grad, name, Option::take)? {
            Some(dh) => Ok(dh),
            None => candle_core::bail!("{name}: the dense layer's backward left no gradient"),
        }
    }
}

/// `op` on `x, a[, b]`, giving the token; its backward is `op`'s, from the
/// gradient of `h` in the link.
struct Head<Op> {
    op: Op,
    link: Arc<Link>,
}

/// The dense layer: `token, W[, b2]` to `y`, computed from `h` in the link;
/// with a [`Sum`], `y` goes there and the tail gives a token.
struct Tail {
    dense: Dense,
    link: Arc<Link>,
    sum: Option<Arc<Sum>>,
}

/// What the tail and the residual join share: the tail's output buffer
/// until the join adds `r` into it, and `dout` from the join's backward
/// until the tail's takes it.
struct Sum {
    y: Mutex<Option<(CpuStorage, Shape)>>,
    grad: Mutex<Option<Tensor>>,
}

/// `out = r + y`: `r, token` to `out`, written over the tail's `y`.
struct Join {
    sum: Arc<Sum>,
}

impl Sum {
    fn new() -> Arc<Self> {
        Arc::new(Sum {
            y: Mutex::new(None),
            grad: Mutex::new(None),
        })
    }

    /// Keeps the dense layer's output for the join; the token instead.
    fn keep(&self, y: (CpuStorage, Shape)) -> Result<(CpuStorage, Shape)> {
        let dtype = y.0.dtype();
        locked(&self.y, "residual join", |s| *s = Some(y))?;
        token_of(dtype)
    }

    /// The join's `dout`, for the dense layer's backward.
    fn take_grad(&self) -> Result<Tensor> {
        match locked(&self.grad, "residual join", Option::take)? {
            Some(dout) => Ok(dout),
            None => candle_core::bail!("residual join: its backward left no gradient"),
        }
    }
}

/// One dense layer (its own input an argument) whose output goes to a
/// [`Sum`] for the join: attention's output projection.
struct Joined {
    dense: Dense,
    sum: Arc<Sum>,
}

impl CustomOp3 for Joined {
    fn name(&self) -> &'static str {
        "synapse-dense-joined"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = self.dense.dispatch((s1, l1), (s2, l2), Some((s3, l3)))?;
        self.sum.keep(y)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _token: &Tensor,
        _dtoken: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        // The identity's backward reads no `y`: `dout` stands in for it.
        let dout = self.sum.take_grad()?;
        CustomOp3::bwd(&self.dense, x, w, b, &dout, &dout)
    }
}

/// `r + (x W^T + b)` with the add in the product's own output buffer (the
/// residual join, see the module doc), for a dense layer with a bias and
/// no activation (CPU, f32/f64; `x` of rank 2 or contiguous).
pub(crate) fn dense_joined(x: &Tensor, (w, b): (&Tensor, &Tensor), r: &Tensor) -> Result<Tensor> {
    let sum = Sum::new();
    let op = Joined {
        dense: Dense::new(DenseAct::Out(KernelAct::Identity)),
        sum: Arc::clone(&sum),
    };
    r.apply_op2(&x.apply_op3(w, b, op)?, Join { sum })
}

/// `f` on a locked value, a poisoned lock a candle error naming `what`.
fn locked<V, R>(m: &Mutex<V>, what: &str, f: impl FnOnce(&mut V) -> R) -> Result<R> {
    let mut guard = m
        .lock()
        .map_err(|_| candle_core::Error::Msg(format!("{what}: poisoned lock")))?;
    Ok(f(&mut guard))
}

impl CustomOp2 for Join {
    fn name(&self) -> &'static str {
        "synapse-residual-join"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        crate::kernel::count_call("residual-join");
        let Some((mut y, shape)) = locked(&self.sum.y, "residual join", Option::take)? else {
            candle_core::bail!("residual join: the dense layer left no output");
        };
        if &shape != l1.shape() {
            candle_core::bail!("residual join: r {:?}, y {shape:?}", l1.shape());
        }
        fn add<T: Real>(y: &mut CpuStorage, (s, l): (&CpuStorage, &Layout)) -> Result<()> {
            let r = contiguous::<T>(s, l, "residual join: r")?;
            // r + y, as candle's `r + branch` (the same bits: f32/f64
            // addition commutes), in parts on the pool.
            for_each_part(T::slice_mut(y)?, 1, r.len() * ELEMENT_WORK, |part, y| {
                for (y, &r) in y.iter_mut().zip(&r[part]) {
                    *y = r + *y;
                }
            });
            Ok(())
        }
        with_float!(s1, "residual join", T => add::<T>(&mut y, (s1, l1)))?;
        Ok((y, shape))
    }

    fn bwd(
        &self,
        r: &Tensor,
        token: &Tensor,
        _out: &Tensor,
        dout: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        locked(&self.sum.grad, "residual join", |g| *g = Some(dout.clone()))?;
        let dr = r.track_op().then(|| dout.clone());
        let dtoken = if token.track_op() {
            Some(token.zeros_like()?)
        } else {
            None
        };
        Ok((dr, dtoken))
    }
}

/// The token: one zero of `h`'s dtype.
fn token(link: &Link) -> Result<(CpuStorage, Shape)> {
    token_of(link.hidden.dtype())
}

/// One zero of `dtype` (f32/f64).
fn token_of(dtype: DType) -> Result<(CpuStorage, Shape)> {
    let storage = match dtype {
        DType::F32 => CpuStorage::F32(vec![0.0]),
        DType::F64 => CpuStorage::F64(vec![0.0]),
        other => candle_core::bail!("linked ops: a {other:?} output"),
    };
    Ok((storage, Shape::from(1)))
}

impl<Op: CustomOp3> CustomOp3 for Head<Op> {
    fn name(&self) -> &'static str {
        "synapse-linked-head"
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
        a: &Tensor,
        b: &Tensor,
        _token: &Tensor,
        _dtoken: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dh = self.link.take_grad(self.op.name())?;
        self.op.bwd(x, a, b, &self.link.hidden, &dh)
    }
}

impl<Op: CustomOp2> CustomOp2 for Head<Op> {
    fn name(&self) -> &'static str {
        "synapse-linked-head-2"
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
        a: &Tensor,
        _token: &Tensor,
        _dtoken: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dh = self.link.take_grad(self.op.name())?;
        self.op.bwd(x, a, &self.link.hidden, &dh)
    }
}

impl Tail {
    /// `y` from `h` (the token's storage is not read).
    fn forward(
        &self,
        w: (&CpuStorage, &Layout),
        b: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        let (hidden, layout) = self.link.hidden.storage_and_layout();
        let Storage::Cpu(hidden) = &*hidden else {
            candle_core::bail!("linked ops: the hidden layer is not on the CPU");
        };
        let y = self.dense.dispatch((hidden, layout), w, b)?;
        match &self.sum {
            Some(sum) => sum.keep(y),
            None => Ok(y),
        }
    }

    /// `(dtoken, dW, db2)`; `dh` goes to the link (when the head needs it).
    fn backward(
        &self,
        token: &Tensor,
        (w, b): (&Tensor, Option<&Tensor>),
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let wanted = token.track_op();
        // Joined, `dy` is the join's `dout`, and `y` a token: the identity's
        // backward (the only activation joined) reads no `y`.
        let dy = match &self.sum {
            Some(sum) => sum.take_grad()?,
            None => dy.clone(),
        };
        let (dh, dw, db) =
            self.dense
                .backward((&self.link.hidden, w, y), &dy, b.is_some(), wanted)?;
        locked(&self.link.grad, "linked ops", |g| *g = dh)?;
        let dtoken = if wanted {
            Some(token.zeros_like()?)
        } else {
            None
        };
        let db = match (b, db) {
            (Some(b), Some(db)) => hand_over(b, db),
            _ => None,
        };
        Ok((dtoken, hand_over(w, dw), db))
    }
}

impl CustomOp3 for Tail {
    fn name(&self) -> &'static str {
        "synapse-linked-tail"
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
        "synapse-linked-tail-nobias"
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

/// The tail: the dense layer `second` on the token, reading `h` from the
/// link; with `join`, `join + y` (the residual join: `second`'s activation
/// the identity).
fn tail(
    token: &Tensor,
    link: Arc<Link>,
    (w, b, act): Layer<'_>,
    join: Option<&Tensor>,
) -> Result<Tensor> {
    if join.is_some() && act != DenseAct::Out(KernelAct::Identity) {
        candle_core::bail!("residual join: after an activation ({act:?})");
    }
    let sum = join.map(|_| Sum::new());
    let tail = Tail {
        dense: Dense::new(act),
        link,
        sum: sum.clone(),
    };
    let y = match b {
        Some(b) => token.apply_op3(w, b, tail)?,
        None => token.apply_op2(w, tail)?,
    };
    match (join, sum) {
        (Some(r), Some(sum)) => r.apply_op2(&y, Join { sum }),
        _ => Ok(y),
    }
}

/// `second(op(x, a, b))` as the linked ops (CPU, f32/f64; `x` as `op`
/// reads it): `op`'s output is never a node of candle's graph. With
/// `join`, `join + second(..)` (the residual join, see the module doc).
pub(crate) fn linked3<Op: CustomOp3 + Send + Sync + 'static>(
    (x, a, b): (&Tensor, &Tensor, &Tensor),
    op: Op,
    second: Layer<'_>,
    join: Option<&Tensor>,
) -> Result<Tensor> {
    let hidden = x.apply_op3_no_bwd(a, b, &op)?;
    let link = Arc::new(Link {
        hidden,
        grad: Mutex::new(None),
    });
    let head = Head {
        op,
        link: Arc::clone(&link),
    };
    tail(&x.apply_op3(a, b, head)?, link, second, join)
}

/// [`linked3`] for an op of two arguments.
pub(crate) fn linked2<Op: CustomOp2 + Send + Sync + 'static>(
    (x, a): (&Tensor, &Tensor),
    op: Op,
    second: Layer<'_>,
    join: Option<&Tensor>,
) -> Result<Tensor> {
    let hidden = x.apply_op2_no_bwd(a, &op)?;
    let link = Arc::new(Link {
        hidden,
        grad: Mutex::new(None),
    });
    let head = Head {
        op,
        link: Arc::clone(&link),
    };
    tail(&x.apply_op2(a, head)?, link, second, join)
}
