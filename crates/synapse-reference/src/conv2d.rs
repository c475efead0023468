//! 2-d convolution, PyTorch's `nn.Conv2d` (square kernel, zero padding,
//! cross-correlation as PyTorch computes it), with its hand-written backward.
//!
//! Shapes: `x` `[N, C, H, W]`, `w` `[O, C, K, K]`, `b` `[O]`, `y` `[N, O, Ho, Wo]`
//! with `Ho = (H + 2P - K) / S + 1` (floor), likewise `Wo`. Writing
//! `xp[n, c, h, v]` for `x` padded with `P` zeros on every side:
//!
//! | step | forward | backward (given `dy`) |
//! | --- | --- | --- |
//! | conv2d | `y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] xp[n,c,iS+p,jS+q]` | `dw[o,c,p,q] = sum_{n,i,j} dy[n,o,i,j] xp[n,c,iS+p,jS+q]`, `db[o] = sum_{n,i,j} dy[n,o,i,j]`, `dxp[n,c,iS+p,jS+q] += dy[n,o,i,j] w[o,c,p,q]` (padding dropped) |

use crate::element::{weight_bias, weight_bias_mut, RefOps};
use crate::Array;
use crate::RefMode;

/// `nn.Conv2d(C, O, K, stride=S, padding=P, bias=...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefConv2d {
    /// The kernel, `[O, C, K, K]`.
    pub w: Array,
    /// The bias, `[O]`, if any.
    pub b: Option<Array>,
    /// The stride `S` (PyTorch's default 1).
    pub stride: usize,
    /// The zero padding `P` on each side (PyTorch's default 0).
    pub padding: usize,
}

/// The sizes of one convolution, read from `x` and `w`.
struct Dims {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    k: usize,
    ho: usize,
    wo: usize,
}

impl RefConv2d {
    /// A convolution from its kernel `[O, C, K, K]`, optional bias `[O]`, stride and padding.
    pub fn new(w: Array, b: Option<Array>, stride: usize, padding: usize) -> Self {
        assert_eq!(w.rank(), 4, "conv2d weight is [O, C, K, K]");
        assert_eq!(w.shape[2], w.shape[3], "square kernel");
        assert!(stride > 0 && w.shape[2] > 0, "stride and kernel >= 1");
        if let Some(b) = &b {
            assert_eq!(b.shape, vec![w.shape[0]], "conv2d bias is [O]");
        }
        Self {
            w,
            b,
            stride,
            padding,
        }
    }

    fn dims(&self, x: &Array) -> Dims {
        assert_eq!(x.rank(), 4, "conv2d input is [N, C, H, W]");
        let (k, p, s) = (self.w.shape[2], self.padding, self.stride);
        assert_eq!(x.shape[1], self.w.shape[1], "conv2d input channels");
        assert!(
            x.shape[2] + 2 * p >= k && x.shape[3] + 2 * p >= k,
            "kernel larger than input"
        );
        Dims {
            n: x.shape[0],
            c: x.shape[1],
            h: x.shape[2],
            w: x.shape[3],
            o: self.w.shape[0],
            k,
            ho: (x.shape[2] + 2 * p - k) / s + 1,
            wo: (x.shape[3] + 2 * p - k) / s + 1,
        }
    }

    /// Calls `f(y offset, x offset, w offset)` for every product term of the
    /// forward sum that falls inside `x` (padding contributes zeros).
    fn each_term(&self, d: &Dims, mut f: impl FnMut(usize, usize, usize)) {
        let (s, p) = (self.stride, self.padding);
        for n in 0..d.n {
            for o in 0..d.o {
                for i in 0..d.ho {
                    for j in 0..d.wo {
                        let yo = ((n * d.o + o) * d.ho + i) * d.wo + j;
                        for c in 0..d.c {
                            for kp in 0..d.k {
                                let h = (i * s + kp).wrapping_sub(p);
                                if h >= d.h {
                                    continue;
                                }
                                for kq in 0..d.k {
                                    let v = (j * s + kq).wrapping_sub(p);
                                    if v >= d.w {
                                        continue;
                                    }
                                    let xo = ((n * d.c + c) * d.h + h) * d.w + v;
                                    let wo = ((o * d.c + c) * d.k + kp) * d.k + kq;
                                    f(yo, xo, wo);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `y = conv(x, w) + b`: `[N, C, H, W]` to `[N, O, Ho, Wo]`.
    pub fn forward(&self, x: &Array) -> Array {
        let d = self.dims(x);
        let mut y = Array::zeros(vec![d.n, d.o, d.ho, d.wo]);
        self.each_term(&d, |yo, xo, wo| y.data[yo] += self.w.data[wo] * x.data[xo]);
        if let Some(b) = &self.b {
            for (idx, v) in y.data.iter_mut().enumerate() {
                *v += b.data[(idx / (d.ho * d.wo)) % d.o];
            }
        }
        y
    }

    /// `(dx, [dw, db])` given `dy = dL/dy`; `db` only with a bias.
    pub fn backward(&self, x: &Array, dy: &Array) -> (Array, Vec<Array>) {
        let d = self.dims(x);
        assert_eq!(dy.shape, vec![d.n, d.o, d.ho, d.wo], "conv2d dy shape");
        let mut dx = Array::zeros(x.shape.clone());
        let mut dw = Array::zeros(self.w.shape.clone());
        self.each_term(&d, |yo, xo, wo| {
            dx.data[xo] += dy.data[yo] * self.w.data[wo];
            dw.data[wo] += dy.data[yo] * x.data[xo];
        });
        let mut grads = vec![dw];
        if self.b.is_some() {
            let mut db = Array::zeros(vec![d.o]);
            for (idx, g) in dy.data.iter().enumerate() {
                db.data[(idx / (d.ho * d.wo)) % d.o] += g;
            }
            grads.push(db);
        }
        (dx, grads)
    }
}

impl RefOps for RefConv2d {
    fn forward(&self, x: &Array, _mode: RefMode) -> Array {
        RefConv2d::forward(self, x)
    }

    fn backward(&self, x: &Array, _y: &Array, dy: &Array, _mode: RefMode) -> (Array, Vec<Array>) {
        RefConv2d::backward(self, x, dy)
    }

    fn parameters(&self) -> Vec<(String, &Array)> {
        weight_bias(&self.w, self.b.as_ref())
    }

    fn parameters_mut(&mut self) -> Vec<&mut Array> {
        weight_bias_mut(&mut self.w, self.b.as_mut())
    }
}
