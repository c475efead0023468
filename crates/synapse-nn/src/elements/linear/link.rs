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

use std::sync::{Arc, Mutex};

use candle_core::{
    CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Storage, Tensor,
};

use super::kernel::Dense;
use crate::backward::hand_over;
use crate::kernel::act::DenseAct;

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
        let grad = self
            .grad
            .lock()
            .map_err(|_| candle_core::Error::Msg(format!("{name}: poisoned link")))?
            .take();
        match grad {
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

/// The dense layer: `token, W[, b2]` to `y`, computed from `h` in the link.
struct Tail {
    dense: Dense,
    link: Arc<Link>,
}

/// The token: one zero of `h`'s dtype.
fn token(link: &Link) -> Result<(CpuStorage, Shape)> {
    let storage = match link.hidden.dtype() {
        DType::F32 => CpuStorage::F32(vec![0.0]),
        DType::F64 => CpuStorage::F64(vec![0.0]),
        other => candle_core::bail!("linked ops: a {other:?} hidden layer"),
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
        self.dense.dispatch((hidden, layout), w, b)
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
        let (dh, dw, db) =
            self.dense
                .backward((&self.link.hidden, w, y), dy, b.is_some(), wanted)?;
        *self
            .link
            .grad
            .lock()
            .map_err(|_| candle_core::Error::Msg("linked ops: poisoned link".into()))? = dh;
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
/// link.
fn tail(token: &Tensor, link: Arc<Link>, (w, b, act): Layer<'_>) -> Result<Tensor> {
    let tail = Tail {
        dense: Dense::new(act),
        link,
    };
    match b {
        Some(b) => token.apply_op3(w, b, tail),
        None => token.apply_op2(w, tail),
    }
}

/// `second(op(x, a, b))` as the linked ops (CPU, f32/f64; `x` as `op`
/// reads it): `op`'s output is never a node of candle's graph.
pub(crate) fn linked3<Op: CustomOp3 + Send + Sync + 'static>(
    (x, a, b): (&Tensor, &Tensor, &Tensor),
    op: Op,
    second: Layer<'_>,
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
    tail(&x.apply_op3(a, b, head)?, link, second)
}

/// [`linked3`] for an op of two arguments.
pub(crate) fn linked2<Op: CustomOp2 + Send + Sync + 'static>(
    (x, a): (&Tensor, &Tensor),
    op: Op,
    second: Layer<'_>,
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
    tail(&x.apply_op2(a, head)?, link, second)
}
