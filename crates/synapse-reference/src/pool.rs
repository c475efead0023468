//! The windows shared by the two 2-d pools (no padding, floor mode, PyTorch's defaults).
//!
//! `x` `[N, C, H, W]` gives `y` `[N, C, Ho, Wo]`, `Ho = (H - K) / S + 1` (floor),
//! likewise `Wo`; window `(i, j)` covers rows `iS..iS+K` and columns `jS..jS+K`.

use crate::Array;

/// Calls `f(y offset, offsets of the window's x elements in row-major order)`
/// for every output element; returns the output shape.
pub(crate) fn each_window(
    x: &Array,
    k: usize,
    stride: usize,
    mut f: impl FnMut(usize, &[usize]),
) -> Vec<usize> {
    assert_eq!(x.rank(), 4, "pool input is [N, C, H, W]");
    assert!(k > 0 && stride > 0, "kernel and stride >= 1");
    let (nc, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3]);
    assert!(h >= k && w >= k, "pool {k} larger than input {h}x{w}");
    let (ho, wo) = ((h - k) / stride + 1, (w - k) / stride + 1);
    let mut window = Vec::with_capacity(k * k);
    for plane in 0..nc {
        for i in 0..ho {
            for j in 0..wo {
                window.clear();
                for p in 0..k {
                    for q in 0..k {
                        window.push((plane * h + i * stride + p) * w + j * stride + q);
                    }
                }
                f((plane * ho + i) * wo + j, &window);
            }
        }
    }
    vec![x.shape[0], x.shape[1], ho, wo]
}
