//! Forward values and gradients of every element against PyTorch (torch
//! 2.15, float64, CPU) on small fixed inputs. Each test has above it the Python
//! script that produced its numbers (printed with `repr`, full precision) and
//! the numbers it printed. Inputs are dyadic rationals, exact in both languages:
//! `d(shape, a, m)[i] = ((i * a) % m) / 8 - (m // 2) / 8`, row-major; each
//! upstream gradient `r` is such an array too (`L = sum(y * r)`, so `dL/dy = r`).
//! Embedding ids are `(i * a) % V`, row-major. Each module is PyTorch's own
//! (`nn.LSTM`, `nn.MultiheadAttention`, ...), or the class SPEC section 10 states.

use crate::common::{assert_close, dyadic as d};
use synapse_reference::{
    Array, RefActivation, RefAttention, RefAvgPool2d, RefBatchNorm, RefConv2d, RefDense,
    RefDropout, RefElement, RefEmbedding, RefGru, RefLayerNorm, RefLoss, RefLstm, RefMaxPool2d,
    RefMode, RefPositional, RefResidual, RefRmsNorm, RefSeqReduce, RefStack,
};

/// Relative to `max(1, |want|)`: only summation order separates the two.
const TOL: f64 = 1e-13;

/// `(y, dx, parameter gradients)` of a one-element stack, `dL/dy = r`.
fn run(e: RefElement, x: &Array, r: (usize, usize), mode: RefMode) -> (Array, Array, Vec<Array>) {
    let stack = RefStack::new(vec![e]);
    let y = stack.forward(x, mode);
    let (dx, grads) = stack.backward(x, &d(&y.shape, r.0, r.1), mode);
    (y, dx, grads.into_iter().map(|(_, g)| g).collect())
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// for name, stride, padding, bias in [("s2p1", 2, 1, True), ("s1p0", 1, 0, False)]:
//     conv = nn.Conv2d(2, 3, 3, stride=stride, padding=padding, bias=bias, dtype=torch.float64)
//     with torch.no_grad():
//         conv.weight.copy_(d([3, 2, 3, 3], 5, 11))
//         if bias:
//             conv.bias.copy_(d([3], 3, 7))
//     x = d([2, 2, 5, 5], 7, 13).requires_grad_()
//     y = conv(x)
//     (y * d(list(y.shape), 3, 10)).sum().backward()
//     show(f"{name}_y", y); show(f"{name}_dx", x.grad); show(f"{name}_dw", conv.weight.grad)
//     if bias:
//         show(f"{name}_db", conv.bias.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod conv2d {
    pub const S2P1_Y: &[f64] = &[-0.65625, -0.53125, -0.515625, -0.71875, -0.46875, -0.875, 0.203125, 0.5, 0.0, 0.375, -0.265625, -0.484375, -0.484375, 0.140625, 0.828125, -0.0625, -0.0625, -0.234375, 0.375, 0.0, 0.234375, 0.4375, 0.40625, 0.46875, 0.1875, 0.40625, 0.390625, -0.140625, -0.71875, -0.671875, -0.828125, -0.9375, -0.09375, 0.09375, 0.546875, 0.0, -0.4375, 0.09375, -0.375, -0.453125, 0.203125, 0.328125, 0.09375, 0.125, -0.140625, 0.46875, 0.90625, 0.265625, 0.4375, 0.828125, 0.578125, 0.09375, 0.21875, 0.234375];
    pub const S2P1_DX: &[f64] = &[-0.421875, 0.171875, 0.171875, -0.15625, 0.453125, 0.09375, -0.21875, 0.390625, -0.765625, 0.0625, 0.265625, -0.03125, -0.546875, 0.265625, 0.046875, -0.421875, 0.953125, 0.1875, -0.6875, 0.171875, 0.328125, -0.078125, -0.484375, 0.21875, 0.109375, -0.484375, 0.03125, 0.09375, -0.328125, 0.359375, 0.078125, -0.109375, 0.34375, -0.03125, -0.015625, 0.3125, 0.046875, -0.515625, 0.3125, 0.0625, -0.375, -0.1875, 0.203125, 0.515625, 0.15625, 0.328125, -0.09375, -0.5, 0.171875, 0.078125, -0.484375, 0.21875, 0.109375, -0.109375, 0.390625, 0.140625, -0.609375, 0.125, -0.0625, -0.515625, -0.421875, 0.171875, 0.171875, -0.15625, 0.453125, 0.09375, -0.21875, 0.390625, -0.765625, 0.0625, 0.265625, -0.03125, -0.546875, 0.265625, 0.046875, -0.5, 0.171875, 0.078125, -0.1875, 0.34375, 0.0625, 0.75, 0.015625, 0.203125, -0.65625, -0.484375, 0.03125, 0.09375, -0.328125, 0.359375, 0.078125, -0.109375, 0.34375, -0.03125, -0.015625, 0.3125, 0.046875, -0.515625, 0.3125, 0.0625];
    pub const S2P1_DW: &[f64] = &[0.0, -0.265625, 0.1875, -0.03125, 0.03125, -0.203125, -0.0625, 0.109375, 0.4375, 0.5, 0.1875, -0.375, -0.546875, -0.359375, 0.34375, 0.375, 0.625, -0.03125, 0.1875, -0.453125, 0.21875, -0.203125, 0.9375, -1.0, 0.4375, -0.390625, 0.15625, -0.375, -0.03125, -0.46875, 0.34375, -0.109375, 1.390625, -0.03125, 0.09375, -0.4375, 0.21875, -0.015625, -0.0625, -1.0, 0.75, 0.078125, 0.15625, -0.265625, -0.125, -0.46875, 0.375, 0.375, 1.390625, -0.953125, -0.53125, -0.4375, 0.1875, 0.25];
    pub const S2P1_DB: &[f64] = &[-1.875, -1.125, -0.375];
    pub const S1P0_Y: &[f64] = &[0.125, 0.765625, 0.1875, 0.6875, -0.09375, 0.140625, -0.78125, -0.75, 0.296875, 0.125, 0.296875, -0.75, -0.84375, 0.140625, -0.09375, 0.625, 0.1875, 0.765625, -0.734375, 0.171875, -0.140625, 0.546875, 0.03125, 0.53125, -0.203125, 0.09375, -0.828125, -0.75, 0.296875, 0.125, 0.625, -0.5625, 0.6875, -0.84375, 0.203125, -0.78125, 0.1875, 0.765625, 0.125, -0.78125, 0.203125, -0.84375, 0.6875, -0.5625, 0.625, 0.09375, -0.828125, -0.734375, 0.5625, 0.453125, 0.546875, -0.1875, -0.296875, -0.203125];
    pub const S1P0_DX: &[f64] = &[0.3125, 0.359375, -0.421875, -0.28125, 0.359375, -0.265625, -0.4375, 0.59375, 0.21875, -0.125, -0.34375, -0.015625, 0.5, -0.890625, 0.5, 0.203125, 0.3125, -0.625, 0.421875, -0.375, 0.328125, -0.140625, -0.078125, 0.21875, -0.515625, 0.25, 0.21875, 0.203125, -0.109375, 0.09375, -0.28125, -0.5, -0.234375, 0.609375, -0.203125, -0.703125, 0.765625, 0.140625, -0.375, 0.5625, 0.078125, -0.3125, -0.0625, 0.421875, -0.390625, 0.328125, -0.671875, 0.5625, 0.171875, -0.546875, 0.171875, 0.3125, -0.484375, -0.203125, 0.34375, 0.421875, -0.03125, -0.421875, 0.234375, 0.171875, -0.21875, -0.84375, 1.078125, -0.4375, 0.1875, -0.15625, 0.0, -0.140625, -0.453125, 0.421875, 0.390625, -0.125, -0.046875, 0.1875, -0.5, 0.15625, 0.265625, 0.109375, -0.109375, -0.046875, 0.34375, -0.21875, 0.109375, 0.328125, -0.140625, -0.765625, -0.265625, 0.328125, -0.125, 0.0625, -0.515625, 0.796875, 0.0625, -0.578125, 0.34375, 0.265625, -0.734375, 0.5625, 0.234375, -0.484375];
    pub const S1P0_DW: &[f64] = &[-0.640625, 0.765625, 0.75, -1.125, 0.890625, -0.75, 0.421875, -1.015625, 0.59375, 0.59375, -0.640625, 0.765625, 1.125, -1.125, 0.890625, -0.578125, 0.421875, -1.015625, 0.828125, 0.859375, -0.53125, 0.984375, -1.015625, 0.03125, -1.5, 1.171875, -0.625, -0.625, 0.828125, 0.859375, -1.484375, 0.984375, -1.015625, 0.90625, -1.5, 1.171875, 0.734375, -0.609375, 0.6875, -0.5, -0.421875, -0.75, 1.109375, -0.234375, 0.65625, 0.65625, 0.734375, -0.609375, 0.4375, -0.5, -0.421875, -1.203125, 1.109375, -0.234375];
}

// kinds: conv2d
#[test]
fn conv2d_stride_2_padding_1_and_stride_1_without_bias() {
    let x = d(&[2, 2, 5, 5], 7, 13);
    let conv = RefConv2d::new(d(&[3, 2, 3, 3], 5, 11), Some(d(&[3], 3, 7)), 2, 1);
    let (y, dx, g) = run(RefElement::Conv2d(conv), &x, (3, 10), RefMode::Train);
    assert_eq!(y.shape, [2, 3, 3, 3]);
    assert_close(&y.data, conv2d::S2P1_Y, TOL, "s2p1 y");
    assert_close(&dx.data, conv2d::S2P1_DX, TOL, "s2p1 dx");
    assert_close(&g[0].data, conv2d::S2P1_DW, TOL, "s2p1 dw");
    assert_close(&g[1].data, conv2d::S2P1_DB, TOL, "s2p1 db");

    let conv = RefConv2d::new(d(&[3, 2, 3, 3], 5, 11), None, 1, 0);
    let (y, dx, g) = run(RefElement::Conv2d(conv), &x, (3, 10), RefMode::Train);
    assert_eq!((y.shape, g.len()), (vec![2, 3, 3, 3], 1));
    assert_close(&y.data, conv2d::S1P0_Y, TOL, "s1p0 y");
    assert_close(&dx.data, conv2d::S1P0_DX, TOL, "s1p0 dx");
    assert_close(&g[0].data, conv2d::S1P0_DW, TOL, "s1p0 dw");
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// # few distinct values (m = 4): many ties inside each window
// x = d([1, 2, 5, 5], 3, 4).requires_grad_()
// for name, pool in [("max_k3s2", nn.MaxPool2d(3, stride=2)), ("max_k2s1", nn.MaxPool2d(2, stride=1)),
//                    ("avg_k3s2", nn.AvgPool2d(3, stride=2)), ("avg_k2s1", nn.AvgPool2d(2, stride=1))]:
//     x.grad = None
//     y = pool(x)
//     (y * d(list(y.shape), 5, 9)).sum().backward()
//     show(f"{name}_y", y); show(f"{name}_dx", x.grad)
// # the tie rule: flat indices PyTorch picks in each window, and an all-equal window
// _, idx = F.max_pool2d(x, 3, stride=2, return_indices=True)
// show("max_k3s2_indices", idx)
// z = torch.zeros(1, 1, 2, 2, dtype=torch.float64, requires_grad=True)
// F.max_pool2d(z, 2).sum().backward()
// show("all_equal_dx", z.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod pools {
    pub const MAX_K3S2_Y: &[f64] = &[0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125];
    pub const MAX_K3S2_DX: &[f64] = &[0.0, -0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.125, 0.0, 0.0, 0.0, 0.25, 0.0, 0.0, 0.0, -0.375, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.25, 0.0, 0.0, 0.0, 0.375, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.375, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    pub const MAX_K2S1_Y: &[f64] = &[0.125, 0.125, 0.0, 0.125, 0.125, 0.0, 0.125, 0.125, 0.0, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.0, 0.125, 0.0, 0.125, 0.125, 0.0, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.0, 0.125, 0.125, 0.0, 0.125];
    pub const MAX_K2S1_DX: &[f64] = &[0.0, -0.375, -0.375, 0.0, 0.0, -0.25, 0.375, 0.0, 0.0, 0.75, 0.0, 0.0, 0.0, -0.375, 0.0, 0.0, 0.0, -0.375, -0.125, 0.0, 0.0, 0.25, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.125, -0.375, 0.0, 0.0, -0.375, 0.0, 0.0, 0.0, 0.75, -0.5, 0.0, 0.0, -0.375, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.25];
    pub const AVG_K3S2_Y: &[f64] = &[-0.05555555555555555, -0.08333333333333333, -0.08333333333333333, -0.05555555555555555, -0.06944444444444445, -0.041666666666666664, -0.041666666666666664, -0.06944444444444445];
    pub const AVG_K3S2_DX: &[f64] = &[-0.05555555555555555, -0.05555555555555555, -0.041666666666666664, 0.013888888888888888, 0.013888888888888888, -0.05555555555555555, -0.05555555555555555, -0.041666666666666664, 0.013888888888888888, 0.013888888888888888, -0.09722222222222221, -0.09722222222222221, -0.05555555555555555, 0.041666666666666664, 0.041666666666666664, -0.041666666666666664, -0.041666666666666664, -0.013888888888888888, 0.027777777777777776, 0.027777777777777776, -0.041666666666666664, -0.041666666666666664, -0.013888888888888888, 0.027777777777777776, 0.027777777777777776, -0.027777777777777776, -0.027777777777777776, 0.013888888888888888, 0.041666666666666664, 0.041666666666666664, -0.027777777777777776, -0.027777777777777776, 0.013888888888888888, 0.041666666666666664, 0.041666666666666664, -0.041666666666666664, -0.041666666666666664, 0.05555555555555555, 0.09722222222222221, 0.09722222222222221, -0.013888888888888888, -0.013888888888888888, 0.041666666666666664, 0.05555555555555555, 0.05555555555555555, -0.013888888888888888, -0.013888888888888888, 0.041666666666666664, 0.05555555555555555, 0.05555555555555555];
    pub const AVG_K2S1_Y: &[f64] = &[0.0, 0.0, -0.125, -0.125, 0.0, -0.125, -0.125, 0.0, -0.125, -0.125, 0.0, 0.0, -0.125, 0.0, 0.0, -0.125, 0.0, -0.125, -0.125, 0.0, -0.125, -0.125, 0.0, 0.0, -0.125, 0.0, 0.0, -0.125, 0.0, 0.0, -0.125, -0.125];
    pub const AVG_K2S1_DX: &[f64] = &[-0.125, -0.09375, -0.0625, -0.03125, 0.0625, -0.1875, -0.0625, 0.0, 0.0625, 0.1875, -0.0625, -0.09375, -0.03125, 0.03125, 0.03125, 0.0625, -0.125, -0.0625, 0.0, -0.125, 0.0625, 0.0, 0.03125, 0.0625, -0.03125, 0.125, 0.125, -0.125, -0.09375, 0.03125, 0.03125, 0.09375, -0.125, -0.0625, 0.125, -0.125, 0.0625, 0.125, -0.09375, -0.03125, 0.0, 0.03125, 0.09375, -0.125, -0.1875, 0.03125, -0.0625, -0.03125, 0.0, -0.0625];
    pub const MAX_K3S2_INDICES: &[f64] = &[1.0, 9.0, 17.0, 13.0, 0.0, 4.0, 12.0, 12.0];
    pub const ALL_EQUAL_DX: &[f64] = &[1.0, 0.0, 0.0, 0.0];
}

// kinds: maxpool2d avgpool2d
#[test]
fn pools_with_ties_and_strides_other_than_k() {
    let x = d(&[1, 2, 5, 5], 3, 4);
    let cases: [(RefElement, &[f64], &[f64]); 4] = [
        (
            RefElement::MaxPool2d(RefMaxPool2d { k: 3, stride: 2 }),
            pools::MAX_K3S2_Y,
            pools::MAX_K3S2_DX,
        ),
        (
            RefElement::MaxPool2d(RefMaxPool2d { k: 2, stride: 1 }),
            pools::MAX_K2S1_Y,
            pools::MAX_K2S1_DX,
        ),
        (
            RefElement::AvgPool2d(RefAvgPool2d { k: 3, stride: 2 }),
            pools::AVG_K3S2_Y,
            pools::AVG_K3S2_DX,
        ),
        (
            RefElement::AvgPool2d(RefAvgPool2d { k: 2, stride: 1 }),
            pools::AVG_K2S1_Y,
            pools::AVG_K2S1_DX,
        ),
    ];
    for (e, want_y, want_dx) in cases {
        let what = format!("{e:?}");
        let (y, dx, _) = run(e, &x, (5, 9), RefMode::Train);
        assert_close(&y.data, want_y, TOL, &format!("{what} y"));
        assert_close(&dx.data, want_dx, TOL, &format!("{what} dx"));
    }
    // The tie rule: the gradient lands on the first maximum in row-major order,
    // the flat index PyTorch returns (per plane, h * W + w).
    let chosen: Vec<f64> = (0..8)
        .map(|w| {
            let plane = w / 4;
            let (i, j) = ((w % 4) / 2, w % 2);
            let window: Vec<usize> = (0..9)
                .map(|t| (2 * i + t / 3) * 5 + 2 * j + t % 3)
                .collect();
            let max = window
                .iter()
                .map(|&o| x.data[plane * 25 + o])
                .fold(f64::MIN, f64::max);
            *window
                .iter()
                .find(|&&o| x.data[plane * 25 + o] == max)
                .expect("a max") as f64
        })
        .collect();
    assert_eq!(chosen, pools::MAX_K3S2_INDICES);
    // An all-equal window: the first element takes the whole gradient.
    let zeros = Array::zeros(vec![1, 1, 2, 2]);
    let dz = RefMaxPool2d::new(2).backward(&zeros, &Array::new(vec![1, 1, 1, 1], vec![1.0]));
    assert_eq!(dz.data, pools::ALL_EQUAL_DX);
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// for name, bn, shape in [("bn1", nn.BatchNorm1d(3, dtype=torch.float64), [4, 3]),
//                         ("bn2", nn.BatchNorm2d(3, eps=1e-3, momentum=0.2, dtype=torch.float64), [2, 3, 2, 3])]:
//     with torch.no_grad():
//         bn.weight.copy_(d([3], 5, 7) + 1)
//         bn.bias.copy_(d([3], 3, 5))
//     bn.train()
//     x1 = d(shape, 7, 11)
//     y1 = bn(x1)
//     x2 = (d(shape, 5, 13) * 3).requires_grad_()
//     y2 = bn(x2)
//     (y2 * d(shape, 3, 7)).sum().backward()
//     show(f"{name}_y1", y1); show(f"{name}_y2", y2); show(f"{name}_dx2", x2.grad)
//     show(f"{name}_dw2", bn.weight.grad); show(f"{name}_db2", bn.bias.grad)
//     show(f"{name}_running_mean", bn.running_mean); show(f"{name}_running_var", bn.running_var)
//     show(f"{name}_num_batches_tracked", [bn.num_batches_tracked.item()])
//     bn.eval(); bn.weight.grad = None; bn.bias.grad = None
//     x3 = d(shape, 11, 17).requires_grad_()
//     y3 = bn(x3)
//     (y3 * d(shape, 3, 7)).sum().backward()
//     show(f"{name}_y3", y3); show(f"{name}_dx3", x3.grad)
//     show(f"{name}_dw3", bn.weight.grad); show(f"{name}_db3", bn.bias.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod batchnorm {
    pub const BN1_Y1: &[f64] = &[-1.3151188287224282, 1.8016218228636727, 1.2162974582909385, 0.26283499160709517, 0.6838739409545576, 0.3220991527636463, 0.10503960957414282, -0.43387394095455756, -0.5720991527636459, -0.052755772458809524, -1.5516218228636727, -1.466297458290938];
    pub const BN1_Y2: &[f64] = &[-1.088519528778084, -1.5520390575561682, 0.634255331978353, -0.5295065095926947, -0.43401301918538937, 1.068115521680269, 0.029506509592694713, 0.6840130191853895, -1.318115521680269, 0.5885195287780841, 1.8020390575561682, -0.884255331978353];
    pub const BN1_DX2: &[f64] = &[-3.97514715657875e-06, -0.1304331910255323, 0.1850285355855962, -1.3250490521963648e-06, 0.3913101734690143, -0.1637610713865465, 1.3250490521963648e-06, -0.3913101734690143, -0.0893240392729045, 3.97514715657875e-06, 0.1304331910255323, 0.06805657507385478];
    pub const BN1_DW2: &[f64] = &[1.1180260383707787, -0.4472104153483115, -0.20337196392277312];
    pub const BN1_DB2: &[f64] = &[0.0, -0.25, 0.375];
    pub const BN1_RUNNING_MEAN: &[f64] = &[-0.09281249999999999, 0.08062500000000002, -0.020625000000000004];
    pub const BN1_RUNNING_VAR: &[f64] = &[0.9331640625000001, 0.90609375, 1.2107812500000001];
    pub const BN1_NUM_BATCHES_TRACKED: &[f64] = &[2.0];
    pub const BN1_Y3: &[f64] = &[-0.83694275375597, 0.5115645047459257, -0.4470538084998225, 0.45704058211664733, 0.34741821822960905, -0.5606530354838869, 0.37616662362460873, 0.1832719317132924, -0.6742522624679513, 0.29529266513257013, 0.019125645196975734, -0.7878514894520157];
    pub const BN1_DX3: &[f64] = &[-0.2426218754761158, 0.0, 0.34079768095219315, -0.08087395849203859, 0.3282925730326333, -0.22719845396812877, 0.08087395849203859, -0.49243885954894995, 0.0, 0.2426218754761158, -0.16414628651631666, 0.22719845396812877];
    pub const BN1_DW3: &[f64] = &[0.6631664596347164, 0.037589499612236524, -0.17756979167946563];
    pub const BN1_DB3: &[f64] = &[0.0, -0.25, 0.375];
    pub const BN2_Y1: &[f64] = &[-1.1240695815347543, 0.26124824580334693, -0.5303619412469966, 0.8549558860911046, 0.06334569904076101, -0.7282644880095825, 1.6251166109502018, 0.05977753865433906, -1.5055615336415236, 1.2337818428762362, -0.3315572294196266, -1.8968963017154892, 0.510727351775508, -0.760727351775508, 1.46431837943877, 0.192863675887754, -1.078591027663262, 1.146454703551016, -0.13455684772182488, -0.9261670347721684, 0.45915079256593283, -0.33245939448441075, -1.1240695815347543, 0.26124824580334693, -0.7228919974935922, 2.0164513790241676, 0.4511123067283047, -1.114226765567558, 1.6251166109502018, 0.05977753865433906, -1.396454703551016, 0.828591027663262, -0.442863675887754, -1.71431837943877, 0.510727351775508, -0.760727351775508];
    pub const BN2_Y2: &[f64] = &[-1.2553477174645995, -0.49179248901047334, 0.2717627394436529, -0.9499256260829491, -0.18637039762882282, 0.5771848308253034, -0.2934467163968302, 1.4998963538752992, -1.3694525585601078, 0.4238905117120216, 2.217233581984151, -0.652115330451256, 0.4662257443558021, -1.804081113970478, -0.3851393275165529, 1.033802458937372, -1.236504399388908, 0.18243738706501708, 0.5771848308253034, -0.6445035347012986, 0.11905169375282768, -1.1026366717737743, -0.33908144331964807, 0.4244737851344782, -0.652115330451256, 1.1412277398208732, -1.7281211726145336, 0.0652218976575957, 1.8585649679297251, -1.0107839445056819, 0.18243738706501708, 1.601379173518942, -0.6689276848073379, 0.7500141016465871, -1.5202927566796929, -0.10135097022576792];
    pub const BN2_DX2: &[f64] = &[-0.031003494895450463, 0.02927143626724204, 0.08954636742993453, 0.033829423087179934, 0.09410435424987243, -0.2019464878660273, 0.11341000183558166, -0.29577530301953414, -0.04756991117969814, 0.38013821675884635, -0.029047088096269498, 0.21915830374356657, -0.12294565229026691, -0.033002668647232426, -0.29023378650510173, 0.11470792931552738, 0.20465091295856186, -0.052580204899307405, 0.0016682397217396925, -0.054048704621014916, 0.00622622654167759, -0.049490717801077014, 0.010784213361615487, 0.07105914452430799, -0.1395103103108593, 0.2881978176276852, -0.3004902233261391, 0.1272179046124054, -0.2819674002427104, -0.033762008402874404, 0.3258042714884059, 0.06857315363053668, 0.15851613727357114, -0.09871498058429808, -0.008771996941263608, -0.26600311479913286];
    pub const BN2_DW2: &[f64] = &[2.2295812670860484, -0.6037588336582835, -1.3539069545747868];
    pub const BN2_DB2: &[f64] = &[0.0, -0.125, -0.25];
    pub const BN2_RUNNING_MEAN: &[f64] = &[0.03208333333333334, -0.059166666666666666, -0.00625];
    pub const BN2_RUNNING_VAR: &[f64] = &[1.1807339015151515, 1.0400946969696971, 1.047571022727273];
    pub const BN2_NUM_BATCHES_TRACKED: &[f64] = &[2.0];
    pub const BN2_Y3: &[f64] = &[-0.8433827744557738, -0.05284456060674125, -0.4840472227062136, 0.306490991142819, -0.12471167095665331, -0.5559143330561256, 1.2694300752428511, 0.35061913169372894, -0.5681918118553934, 1.1162949179846642, 0.19748397443554186, -0.7213269691135804, 0.49145654119299464, -0.24096707210561286, -0.9733906854042204, 0.36938593897656, -0.3630376743220474, -1.0954612876206549, -0.05284456060674125, -0.4840472227062136, 0.306490991142819, -0.12471167095665331, -0.5559143330561256, 0.23462388079290697, 0.35061913169372894, -0.5681918118553934, 1.1162949179846642, 0.19748397443554186, -0.7213269691135804, 0.9631597607264771, -0.24096707210561286, -0.9733906854042204, 0.36938593897656, -0.3630376743220474, -1.0954612876206549, 0.24731533676012546];
    pub const BN2_DX3: &[f64] = &[-0.2156013310497362, 0.0, 0.2156013310497362, -0.07186711034991206, 0.1437342206998241, -0.1437342206998241, 0.15313515725818705, -0.4594054717745611, 0.0, 0.4594054717745611, -0.15313515725818705, 0.3062703145163741, -0.24414120443286916, 0.12207060221643458, -0.36621180664930375, 0.0, 0.36621180664930375, -0.12207060221643458, 0.1437342206998241, -0.1437342206998241, 0.07186711034991206, -0.2156013310497362, 0.0, 0.2156013310497362, -0.15313515725818705, 0.3062703145163741, -0.3062703145163741, 0.15313515725818705, -0.4594054717745611, 0.0, 0.36621180664930375, -0.12207060221643458, 0.24414120443286916, -0.24414120443286916, 0.12207060221643458, -0.36621180664930375];
    pub const BN2_DW3: &[f64] = &[0.7761647917790503, 0.06931918118553936, 0.16632119551989213];
    pub const BN2_DB3: &[f64] = &[0.0, -0.125, -0.25];
}

// kinds: batchnorm batchnorm2d
#[test]
fn batchnorm_two_training_steps_then_evaluation() {
    type Case<'a> = (&'a str, Vec<usize>, f64, f64, [&'a [f64]; 13]);
    let cases: [Case; 2] = [
        (
            "bn1",
            vec![4, 3],
            1e-5,
            0.1,
            [
                batchnorm::BN1_Y1,
                batchnorm::BN1_Y2,
                batchnorm::BN1_DX2,
                batchnorm::BN1_DW2,
                batchnorm::BN1_DB2,
                batchnorm::BN1_RUNNING_MEAN,
                batchnorm::BN1_RUNNING_VAR,
                batchnorm::BN1_NUM_BATCHES_TRACKED,
                batchnorm::BN1_Y3,
                batchnorm::BN1_DX3,
                batchnorm::BN1_DW3,
                batchnorm::BN1_DB3,
                &[],
            ],
        ),
        (
            "bn2",
            vec![2, 3, 2, 3],
            1e-3,
            0.2,
            [
                batchnorm::BN2_Y1,
                batchnorm::BN2_Y2,
                batchnorm::BN2_DX2,
                batchnorm::BN2_DW2,
                batchnorm::BN2_DB2,
                batchnorm::BN2_RUNNING_MEAN,
                batchnorm::BN2_RUNNING_VAR,
                batchnorm::BN2_NUM_BATCHES_TRACKED,
                batchnorm::BN2_Y3,
                batchnorm::BN2_DX3,
                batchnorm::BN2_DW3,
                batchnorm::BN2_DB3,
                &[],
            ],
        ),
    ];
    for (name, shape, eps, momentum, want) in cases {
        let mut bn = RefBatchNorm::new(3);
        bn.weight = d(&[3], 5, 7).map(|v| v + 1.0);
        bn.bias = d(&[3], 3, 5);
        (bn.eps, bn.momentum) = (eps, momentum);
        let mut stack = RefStack::new(vec![RefElement::BatchNorm(bn)]);
        let x1 = d(&shape, 7, 11);
        let x2 = d(&shape, 5, 13).map(|v| v * 3.0);
        let x3 = d(&shape, 11, 17);
        let r = d(&shape, 3, 7);
        assert_close(
            &stack.forward_train(&x1).data,
            want[0],
            TOL,
            &format!("{name} y1"),
        );
        let (dx2, g2) = stack.backward(&x2, &r, RefMode::Train);
        assert_close(
            &stack.forward_train(&x2).data,
            want[1],
            TOL,
            &format!("{name} y2"),
        );
        assert_close(&dx2.data, want[2], TOL, &format!("{name} dx2"));
        assert_close(&g2[0].1.data, want[3], TOL, &format!("{name} dweight2"));
        assert_close(&g2[1].1.data, want[4], TOL, &format!("{name} dbias2"));
        let buffers = stack.buffers();
        assert_eq!(buffers[0].0, "0.running_mean");
        assert_close(
            &buffers[0].1.data,
            want[5],
            TOL,
            &format!("{name} running_mean"),
        );
        assert_close(
            &buffers[1].1.data,
            want[6],
            TOL,
            &format!("{name} running_var"),
        );
        assert_eq!(buffers[2].1.data, want[7], "{name} num_batches_tracked");
        assert_close(
            &stack.forward(&x3, RefMode::Eval).data,
            want[8],
            TOL,
            &format!("{name} y3"),
        );
        let (dx3, g3) = stack.backward(&x3, &r, RefMode::Eval);
        assert_close(&dx3.data, want[9], TOL, &format!("{name} dx3"));
        assert_close(&g3[0].1.data, want[10], TOL, &format!("{name} dweight3"));
        assert_close(&g3[1].1.data, want[11], TOL, &format!("{name} dbias3"));
    }
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// ln = nn.LayerNorm(4, dtype=torch.float64)
// with torch.no_grad():
//     ln.weight.copy_(d([4], 5, 7) + 1)
//     ln.bias.copy_(d([4], 3, 5))
// x = d([2, 3, 4], 7, 11).requires_grad_()
// y = ln(x)
// (y * d([2, 3, 4], 3, 7)).sum().backward()
// show("y", y); show("dx", x.grad); show("dw", ln.weight.grad); show("db", ln.bias.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod layernorm {
    pub const Y: &[f64] = &[-1.0706470947406694, 0.7815176757925356, -0.6502141406340285, 1.2347765136888034, -0.12500639950852188, -1.624910406880693, 1.2749283255045545, 0.10000767941022634, -0.7017959489137545, 2.03258289541363, 0.11595783942066906, -0.5331129781171744, -0.1250063995085219, -1.624910406880693, 1.2749283255045545, 0.1000076794102263, -0.7017959489137545, 2.03258289541363, 0.11595783942066903, -0.5331129781171744, 0.40259414843097874, -0.17619729927583636, -1.651066316330904, 0.7921551386965053];
    pub const DX: &[f64] = &[-0.5254967477004957, -0.021223781636670526, 0.7598061669032731, -0.21308563756610688, 0.6379788039471219, 0.03391799006335766, -0.13391287045654027, -0.5379839235539394, -0.11401657756657191, 0.38349149451945574, -0.7384141789444096, 0.4689392619915259, -0.07600880474871693, -0.06790764911807665, -0.03208723127510574, 0.17600368514189932, 0.44150160426856844, -0.3430508904275644, 0.5757063168391511, -0.674157030680155, 0.004163144788145931, -1.0729141908353692, 0.4603850672650307, 0.6083659787821925];
    pub const DW: &[f64] = &[0.3518295171823448, 0.6468668095535463, -0.5168176541863158, 0.18194431069500566];
    pub const DB: &[f64] = &[0.125, -0.25, 0.25, -0.125];
}

// kinds: layernorm
#[test]
fn layernorm_over_the_last_dimension() {
    let mut ln = RefLayerNorm::new(4);
    ln.weight = d(&[4], 5, 7).map(|v| v + 1.0);
    ln.bias = d(&[4], 3, 5);
    let (y, dx, g) = run(
        RefElement::LayerNorm(ln),
        &d(&[2, 3, 4], 7, 11),
        (3, 7),
        RefMode::Train,
    );
    assert_close(&y.data, layernorm::Y, TOL, "y");
    assert_close(&dx.data, layernorm::DX, TOL, "dx");
    assert_close(&g[0].data, layernorm::DW, TOL, "dweight");
    assert_close(&g[1].data, layernorm::DB, TOL, "dbias");
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// for eps in [None, 0.25]:
//     norm = nn.RMSNorm(4, eps=eps, dtype=torch.float64)
//     with torch.no_grad():
//         norm.weight.copy_(d([4], 5, 7) + 1)
//     x = d([2, 3, 4], 7, 11).requires_grad_()
//     y = norm(x)
//     (y * d([2, 3, 4], 3, 7)).sum().backward()
//     print("eps", eps)
//     show("y", y); show("dx", x.grad); show("dw", norm.weight.grad)
// for name, f in [("sigmoid", torch.sigmoid), ("relu", torch.relu), ("identity", lambda v: v)]:
//     x = d([3, 5], 7, 11).requires_grad_()
//     y = f(x)
//     (y * d([3, 5], 3, 7)).sum().backward()
//     print(name); show("y", y); show("dx", x.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod rms_act {
    pub const RMS_Y: &[f64] = &[-0.8206652053732655, 0.6565321642986124, -0.52522573143889, 0.9847982464479186, 0.24514516892272975, -1.4708710135363785, 1.5689290811054704, 0.0, -0.7001400420140046, 1.0502100630210067, -0.2800560168056018, -1.050210063021007, 0.42874646285627177, -0.8574929257125435, 1.714985851425087, 0.25724787771376306, -0.5856516070822724, 1.5617376188860597, 0.0, -0.9370425713316357, 0.6004805767690763, -0.40032038451271756, -1.6012815380508703, 0.48038446141526103];
    pub const RMS_DX: &[f64] = &[-0.5008887632795448, 0.003395856022234199, 0.7844427411361007, -0.18847000923399823, 0.29794566684454893, -0.4035466626881873, -0.3771464137272747, -0.882522608121827, 0.10433459449620451, 0.9719591171488535, -0.2539723681815507, 0.5505022683286583, -0.025220380168016587, 0.025220380168016587, -0.02017630413441429, 0.2017630413441276, 0.47994863409669164, -0.2494971074074073, 0.6246950475544238, -0.6094585829799255, -0.0492702011707957, -1.1178176890624345, 0.4157173223785908, 0.5542897631714552];
    pub const RMS_DW: &[f64] = &[0.18766375675499436, 0.48741028250753266, -0.6089562063351074, 0.038336692403187045];
    pub const RMS_EPS_Y: &[f64] = &[-0.5658484127657408, 0.45267873021259264, -0.3621429841700741, 0.6790180953188889, 0.13176156917368248, -0.7905694150420949, 0.8432740427115678, 0.0, -0.4662524041201569, 0.6993786061802354, -0.18650096164806276, -0.6993786061802354, 0.25253813613805265, -0.5050762722761053, 1.0101525445522106, 0.1515228816828316, -0.36596252735569995, 0.9759000729485333, 0.0, -0.5855400437691199, 0.36949847931160995, -0.2463323195410733, -0.9853292781642932, 0.29559878344928797];
    pub const RMS_EPS_DX: &[f64] = &[-0.34229190870583337, 0.0011131444185555558, 0.5421013318365556, -0.1330207580173889, 0.23365718266799693, -0.43744840965662585, 0.09135468796041984, -0.4743416490252569, 0.030813202359245152, 0.6762687044108016, -0.17879766105825148, 0.3182679454211506, -0.17007670392970892, 0.17007670392970892, -0.3999379462104671, 0.041230716104171866, 0.3401708825706316, -0.20958615852370882, 0.3903600291794133, -0.3271588815979845, 0.06505086496618634, -0.7196251936884365, 0.09685882467391717, 0.40465464530436507];
    pub const RMS_EPS_DW: &[f64] = &[0.14552060032259834, 0.2937295262023477, -0.38588894772590293, -0.0033164782988759633];
    pub const SIGMOID_Y: &[f64] = &[0.34864513533394575, 0.5621765008857981, 0.43782349911420193, 0.6513548646660542, 0.5312093733737563, 0.40733340004593027, 0.6224593312018546, 0.5, 0.3775406687981454, 0.5926665999540697, 0.46879062662624377, 0.34864513533394575, 0.5621765008857981, 0.43782349911420193, 0.6513548646660542];
    pub const SIGMOID_DX: &[f64] = &[-0.08515938935322016, 0.0, 0.09230028102659937, -0.02838646311774005, 0.06225649375340437, -0.0603532253132381, 0.029375464025199312, -0.09375, 0.0, 0.09052983796985715, -0.03112824687670218, 0.05677292623548011, -0.06153352068439959, 0.030766760342199793, -0.08515938935322016];
    pub const RELU_Y: &[f64] = &[0.0, 0.25, 0.0, 0.625, 0.125, 0.0, 0.5, 0.0, 0.0, 0.375, 0.0, 0.0, 0.25, 0.0, 0.625];
    pub const RELU_DX: &[f64] = &[0.0, 0.0, 0.0, -0.125, 0.25, 0.0, 0.125, 0.0, 0.0, 0.375, 0.0, 0.0, -0.25, 0.0, -0.375];
    pub const IDENTITY_Y: &[f64] = &[-0.625, 0.25, -0.25, 0.625, 0.125, -0.375, 0.5, 0.0, -0.5, 0.375, -0.125, -0.625, 0.25, -0.25, 0.625];
    pub const IDENTITY_DX: &[f64] = &[-0.375, 0.0, 0.375, -0.125, 0.25, -0.25, 0.125, -0.375, 0.0, 0.375, -0.125, 0.25, -0.25, 0.125, -0.375];
}

// kinds: rmsnorm
#[test]
fn rmsnorm_with_the_default_and_a_given_eps() {
    for (eps, want) in [
        (None, [rms_act::RMS_Y, rms_act::RMS_DX, rms_act::RMS_DW]),
        (
            Some(0.25),
            [rms_act::RMS_EPS_Y, rms_act::RMS_EPS_DX, rms_act::RMS_EPS_DW],
        ),
    ] {
        let mut norm = RefRmsNorm::new(4);
        norm.weight = d(&[4], 5, 7).map(|v| v + 1.0);
        if let Some(eps) = eps {
            norm.eps = eps;
        }
        let (y, dx, g) = run(
            RefElement::RmsNorm(norm),
            &d(&[2, 3, 4], 7, 11),
            (3, 7),
            RefMode::Train,
        );
        assert_close(&y.data, want[0], TOL, &format!("eps {eps:?} y"));
        assert_close(&dx.data, want[1], TOL, &format!("eps {eps:?} dx"));
        assert_close(&g[0].data, want[2], TOL, &format!("eps {eps:?} dweight"));
    }
}

// kinds: sigmoid relu identity
#[test]
fn sigmoid_relu_and_identity_with_relu_at_zero() {
    for (a, want) in [
        (
            RefActivation::Sigmoid,
            [rms_act::SIGMOID_Y, rms_act::SIGMOID_DX],
        ),
        (RefActivation::Relu, [rms_act::RELU_Y, rms_act::RELU_DX]),
        (
            RefActivation::Identity,
            [rms_act::IDENTITY_Y, rms_act::IDENTITY_DX],
        ),
    ] {
        let (y, dx, _) = run(
            RefElement::Activation(a),
            &d(&[3, 5], 7, 11),
            (3, 7),
            RefMode::Train,
        );
        assert_close(&y.data, want[0], TOL, &format!("{a:?} y"));
        assert_close(&dx.data, want[1], TOL, &format!("{a:?} dx"));
    }
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// torch.manual_seed(0)
// x = (d([3, 5], 7, 11) + 1 / 16).requires_grad_()   # no zeros, so the mask is y != 0
// y = F.dropout(x, p=0.1, training=True)
// (y * d([3, 5], 3, 7)).sum().backward()
// show("mask", (y != 0).double()); show("y", y); show("dx", x.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod dropout {
    pub const MASK: &[f64] = &[0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
    pub const Y: &[f64] = &[-0.0, 0.3472222222222222, -0.20833333333333334, 0.0, 0.20833333333333334, -0.3472222222222222, 0.625, 0.06944444444444445, -0.48611111111111116, 0.48611111111111116, -0.06944444444444445, -0.625, 0.3472222222222222, -0.20833333333333334, 0.763888888888889];
    pub const DX: &[f64] = &[-0.0, 0.0, 0.4166666666666667, -0.0, 0.2777777777777778, -0.2777777777777778, 0.1388888888888889, -0.4166666666666667, 0.0, 0.4166666666666667, -0.1388888888888889, 0.2777777777777778, -0.2777777777777778, 0.1388888888888889, -0.4166666666666667];
}

// kinds: dropout
#[test]
fn dropout_scales_as_pytorch_rounds() {
    let x = d(&[3, 5], 7, 11).map(|v| v + 1.0 / 16.0);
    let drop = RefDropout {
        p: 0.1,
        mask: Some(Array::new(vec![3, 5], dropout::MASK.to_vec())),
    };
    let (y, dx, _) = run(
        RefElement::Dropout(drop.clone()),
        &x,
        (3, 7),
        RefMode::Train,
    );
    // Bit for bit, signed zeros included: x * (mask / (1 - p)), as PyTorch
    // rounds it; for 7 of these 15 inputs x / (1 - p) would differ in the last bit.
    let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&y.data), bits(dropout::Y));
    assert_eq!(bits(&dx.data), bits(dropout::DX));
    let (y, dx, _) = run(RefElement::Dropout(drop), &x, (3, 7), RefMode::Eval);
    assert_eq!((y, dx), (x, d(&[3, 5], 3, 7)));
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// x = d([3, 4], 7, 11).requires_grad_()
// r = d([3, 4], 3, 7)
// for name, f in [("softmax", lambda v: F.softmax(v, dim=-1)), ("leaky_default", F.leaky_relu),
//                 ("leaky_02", lambda v: F.leaky_relu(v, 0.2))]:
//     x.grad = None
//     y = f(x)
//     (y * r).sum().backward()
//     show(f"{name}_y", y); show(f"{name}_dx", x.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod activations {
    pub const SOFTMAX_Y: &[f64] = &[0.11984358495556893, 0.2874898150903613, 0.17437138720741985, 0.41829521274664994, 0.2535484757687672, 0.153784924277163, 0.3689108554330873, 0.2237557445209824, 0.1743264666927305, 0.4181874540337694, 0.25364351237864874, 0.15384256689485132];
    pub const SOFTMAX_DX: &[f64] = &[-0.04112564736327829, 0.009153381250714066, 0.0709410765713793, -0.03896881045881506, 0.06664614468942189, -0.03646953203280283, 0.050855711411375355, -0.0810323240679944, -0.02851553859321778, 0.08841507423722808, -0.07319530288367694, 0.013295767239666642];
    pub const LEAKY_DEFAULT_Y: &[f64] = &[-0.00625, 0.25, -0.0025, 0.625, 0.125, -0.00375, 0.5, 0.0, -0.005, 0.375, -0.00125, -0.00625];
    pub const LEAKY_DEFAULT_DX: &[f64] = &[-0.00375, 0.0, 0.00375, -0.125, 0.25, -0.0025, 0.125, -0.00375, 0.0, 0.375, -0.00125, 0.0025];
    pub const LEAKY_02_Y: &[f64] = &[-0.125, 0.25, -0.05, 0.625, 0.125, -0.07500000000000001, 0.5, 0.0, -0.1, 0.375, -0.025, -0.125];
    pub const LEAKY_02_DX: &[f64] = &[-0.07500000000000001, 0.0, 0.07500000000000001, -0.125, 0.25, -0.05, 0.125, -0.07500000000000001, 0.0, 0.375, -0.025, 0.05];
}

// kinds: softmax leaky_relu
#[test]
fn softmax_and_leaky_relu() {
    let x = d(&[3, 4], 7, 11);
    let cases: [(RefActivation, &[f64], &[f64]); 3] = [
        (
            RefActivation::Softmax,
            activations::SOFTMAX_Y,
            activations::SOFTMAX_DX,
        ),
        (
            RefActivation::LeakyRelu(0.01),
            activations::LEAKY_DEFAULT_Y,
            activations::LEAKY_DEFAULT_DX,
        ),
        (
            RefActivation::LeakyRelu(0.2),
            activations::LEAKY_02_Y,
            activations::LEAKY_02_DX,
        ),
    ];
    for (a, want_y, want_dx) in cases {
        let (y, dx, _) = run(RefElement::Activation(a), &x, (3, 7), RefMode::Train);
        assert_close(&y.data, want_y, TOL, &format!("{a:?} y"));
        assert_close(&dx.data, want_dx, TOL, &format!("{a:?} dx"));
    }
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// p = (torch.sigmoid(d([3, 4], 7, 11))).detach().requires_grad_()
// z = (d([3, 4], 7, 11) * 4).requires_grad_()
// t = (d([3, 4], 5, 9) + 0.5).clamp(0, 1)
// c = torch.tensor([2, 0, 3])
// for name, inp, f in [("bce", p, lambda: F.binary_cross_entropy(p, t)),
//                      ("bce_logits", z, lambda: F.binary_cross_entropy_with_logits(z, t)),
//                      ("cross_entropy", z, lambda: F.cross_entropy(z, c))]:
//     inp.grad = None
//     loss = f()
//     loss.backward()
//     show(f"{name}_value", [loss.item()]); show(f"{name}_grad", inp.grad)
// show("probs", p); show("targets", t)
// ```
// It printed the values below.
#[rustfmt::skip]
mod losses {
    pub const BCE_VALUE: &[f64] = &[0.682300135201785];
    pub const BCE_GRAD: &[f64] = &[0.1279384523765825, -0.021270079846810428, 0.10591229234179265, -0.03619871516926561, 0.09410309284616425, -0.16143386066183787, 0.08775014973294522, -0.16666666666666666, -0.043424608791145625, 0.20458261788485008, -0.052273453724795256, 0.08206858377292404];
    pub const BCE_LOGITS_VALUE: &[f64] = &[0.8623896920738087];
    pub const BCE_LOGITS_GRAD: &[f64] = &[0.0063215150017702955, 0.008838214885833742, 0.011995118447499592, 0.014511818331563045, 0.03103827760015455, -0.057714539682803635, 0.04214975649815686, -0.041666666666666664, -0.0317330898314902, 0.0681312063494703, -0.020621610933487883, -0.0040951516648963715];
    pub const CROSS_ENTROPY_VALUE: &[f64] = &[3.2427584644067777];
    pub const CROSS_ENTROPY_GRAD: &[f64] = &[0.0017824330162496543, 0.05902607491920246, -0.3253450227657975, 0.2645365148303454, -0.2797733772275922, 0.007248551829711016, 0.24003906988688642, 0.03248575551099484, 0.008502604959551453, 0.2815676060617652, 0.03810603171662397, -0.32817624273794066];
    pub const PROBS: &[f64] = &[0.34864513533394575, 0.5621765008857981, 0.43782349911420193, 0.6513548646660542, 0.5312093733737563, 0.40733340004593027, 0.6224593312018546, 0.5, 0.3775406687981454, 0.5926665999540697, 0.46879062662624377, 0.34864513533394575];
    pub const TARGETS: &[f64] = &[0.0, 0.625, 0.125, 0.75, 0.25, 0.875, 0.375, 1.0, 0.5, 0.0, 0.625, 0.125];
}

#[test]
fn bce_bce_logits_and_cross_entropy() {
    let probs = Array::new(vec![3, 4], losses::PROBS.to_vec());
    let targets = Array::new(vec![3, 4], losses::TARGETS.to_vec());
    let z = d(&[3, 4], 7, 11).map(|v| v * 4.0);
    let classes = Array::new(vec![3], vec![2.0, 0.0, 3.0]);
    type Case<'a> = (RefLoss, &'a Array, &'a Array, &'a [f64], &'a [f64]);
    let cases: [Case; 3] = [
        (
            RefLoss::Bce,
            &probs,
            &targets,
            losses::BCE_VALUE,
            losses::BCE_GRAD,
        ),
        (
            RefLoss::BceLogits,
            &z,
            &targets,
            losses::BCE_LOGITS_VALUE,
            losses::BCE_LOGITS_GRAD,
        ),
        (
            RefLoss::CrossEntropy,
            &z,
            &classes,
            losses::CROSS_ENTROPY_VALUE,
            losses::CROSS_ENTROPY_GRAD,
        ),
    ];
    for (loss, out, target, value, grad) in cases {
        assert_close(
            &[loss.forward(out, target)],
            value,
            TOL,
            &format!("{loss:?} value"),
        );
        assert_close(
            &loss.backward(out, target).data,
            grad,
            TOL,
            &format!("{loss:?} grad"),
        );
    }
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// model = nn.Sequential(
//     nn.Unflatten(1, (1, 4, 4)), nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.LeakyReLU(0.1),
//     nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3), nn.LayerNorm(3), nn.Tanh(), nn.Linear(3, 3),
// ).double()
// with torch.no_grad():
//     for k, (name, p) in enumerate(model.named_parameters()):
//         p.copy_(d(list(p.shape), 3 + 2 * k, 7 + 4 * k))
// print("names =", [n for n, _ in model.state_dict().items()])
// x = d([4, 16], 7, 13)
// c = torch.tensor([0, 2, 1, 2])
// opt = torch.optim.SGD(model.parameters(), lr=0.1)
// model.train()
// losses = []
// for step in range(2):
//     opt.zero_grad()
//     loss = F.cross_entropy(model(x), c)
//     loss.backward()
//     if step == 0:
//         for name, p in model.named_parameters():
//             show(f"grad_{name.replace('.', '_')}", p.grad)
//     opt.step()
//     losses.append(loss.item())
// show("losses", losses)
// for name, v in model.state_dict().items():
//     show(f"after_{name.replace('.', '_')}", v.double())
// model.eval()
// show("eval_out", model(x))
// ```
// It printed the values below.
#[rustfmt::skip]
mod stack {
    pub const NAMES: &[&str] = &["1.weight", "1.bias", "2.weight", "2.bias", "2.running_mean", "2.running_var", "2.num_batches_tracked", "6.weight", "6.bias", "7.weight", "7.bias", "9.weight", "9.bias"];
    pub const GRAD_1_WEIGHT: &[f64] = &[0.04971289264893703, 0.1976933957394713, -0.01625390722146964, 0.021323888273340193, 0.20177770149963264, -0.1366974908024192, -0.08194199839781467, 0.12526075971944717, -0.36763185767480333, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    pub const GRAD_1_BIAS: &[f64] = &[2.7755575615628914e-17, 0.0];
    pub const GRAD_2_WEIGHT: &[f64] = &[-0.0018599064163038318, 0.002994068696495152];
    pub const GRAD_2_BIAS: &[f64] = &[0.09899605718535237, -0.013510150011923735];
    pub const GRAD_6_WEIGHT: &[f64] = &[0.03662458377354715, 0.03434320379754692, 0.023809949101582042, -0.17668676293662636, 0.0, 0.0, 0.0, 0.0, -0.06832291847840184, -0.06403942227299679, -0.044341257036081806, 0.33162671457476584, 0.0, 0.0, 0.0, 0.0, 0.03169833470485472, 0.0296962184754499, 0.020531307934499782, -0.15493995163813953, 0.0, 0.0, 0.0, 0.0];
    pub const GRAD_6_BIAS: &[f64] = &[-0.5009272416842832, 0.9343037333089473, -0.4333764916246644];
    pub const GRAD_7_WEIGHT: &[f64] = &[-1.9561770286212348, 0.0375047697985265, 0.00030360268749188816];
    pub const GRAD_7_BIAS: &[f64] = &[1.6386485085608589, -0.7351277472806188, 0.0002433715288603457];
    pub const GRAD_9_WEIGHT: &[f64] = &[-0.026474137851534255, 0.0, -0.24632887839795284, -0.030272637149954536, 0.0, -0.2447851615167198, 0.056746775001488794, 0.0, 0.49111403991467273];
    pub const GRAD_9_BIAS: &[f64] = &[-0.24639211946976916, -0.2448497914207449, 0.49124191089051406];
    pub const LOSSES: &[f64] = &[2.637792937630936, 1.736194580368701];
    pub const AFTER_1_WEIGHT: &[f64] = &[-0.3874068980321881, -0.03983330867031387, 0.3787867838282332, -0.1268082064211816, 0.19548048364138942, -0.22432877591087325, 0.15246057408400868, -0.39398060783207056, 0.08216690498433378, 0.3750020988398443, -0.12500560077262957, 0.25000166424218706, -0.24999467177796808, 0.12499630722399001, -0.3749940560813066, -3.934598127072565e-08, 0.37500520419240885, -0.12500134751308];
    pub const AFTER_1_BIAS: &[f64] = &[-0.625, 0.0];
    pub const AFTER_2_WEIGHT: &[f64] = &[-0.89604926509706, -0.032217217201644915];
    pub const AFTER_2_BIAS: &[f64] = &[-1.1329872862577401, 0.03483615246160437];
    pub const AFTER_2_RUNNING_MEAN: &[f64] = &[-0.11673686840990907, -0.001298828125];
    pub const AFTER_2_RUNNING_VAR: &[f64] = &[0.823699333749555, 0.8401703268384176];
    pub const AFTER_2_NUM_BATCHES_TRACKED: &[f64] = &[2.0];
    pub const AFTER_6_WEIGHT: &[f64] = &[-1.383049331867643, -0.006762245898352867, 1.3701638945667343, -0.08693261753612055, 1.2500761248483405, -0.249922545283211, 1.1250795914078402, -0.37492892425324886, 1.0141618602029276, -0.48801961881604894, 0.8834642097655745, -0.6916252123429674, 0.7498751921631327, -0.7501269865497404, 0.6248694372129295, -0.8751165455963558, 0.49388747166471525, -1.0052181352855982, 0.3713718956676911, -1.096442170120912, 0.25004868298852695, -1.2499504681670486, 0.1250509713792304, -1.3749545301503954];
    pub const AFTER_6_BIAS: &[f64] = &[-1.5284084432301916, -0.16968546980344879, 1.6980939130336403];
    pub const AFTER_7_WEIGHT: &[f64] = &[-1.5361734334633432, -0.016678199355146157, 1.8749475832707174];
    pub const AFTER_7_BIAS: &[f64] = &[-2.416172882683011, 0.1416662849457656, 2.124958884365632];
    pub const AFTER_9_WEIGHT: &[f64] = &[-2.3804171534513014, 0.001596624152005782, 2.421195765837624, -0.13094657827246736, 2.251706096896193, -0.20250082133237113, 2.136363731723769, -0.37830272104819873, 1.9063050554947472];
    pub const AFTER_9_BIAS: &[f64] = &[-2.5787932893099064, 0.04751044940574431, 2.5312828399041623];
    pub const EVAL_OUT: &[f64] = &[1.2665175107920859, 0.2469963512766154, 3.1044521531304294, 1.2298065381200627, 0.24404223315596313, 3.1375227313301712, 1.2590542569238674, 0.24639563752115085, 3.1111755507222174, 1.2082299531667071, 0.24230643021793213, 3.156958406277353];
}

// kinds: reshape conv2d batchnorm2d leaky_relu maxpool2d flatten linear layernorm tanh
#[test]
fn a_cnn_stack_trains_like_nn_sequential() {
    use synapse_reference::RefReshape;
    let mut stack = RefStack::new(vec![
        RefElement::Reshape(RefReshape::Unflatten(vec![1, 4, 4])),
        RefElement::Conv2d(RefConv2d::new(
            Array::zeros(vec![2, 1, 3, 3]),
            Some(Array::zeros(vec![2])),
            1,
            1,
        )),
        RefElement::BatchNorm(RefBatchNorm::new(2)),
        RefElement::Activation(RefActivation::LeakyRelu(0.1)),
        RefElement::MaxPool2d(RefMaxPool2d::new(2)),
        RefElement::Reshape(RefReshape::Flatten),
        lin(3, 8),
        RefElement::LayerNorm(RefLayerNorm::new(3)),
        RefElement::Activation(RefActivation::Tanh),
        lin(3, 3),
    ]);
    for (k, (_, p)) in stack.parameters_mut().into_iter().enumerate() {
        *p = d(&p.shape, 3 + 2 * k, 7 + 4 * k);
    }
    let names: Vec<String> = stack.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, stack::NAMES);
    let x = d(&[4, 16], 7, 13);
    let c = Array::new(vec![4], vec![0.0, 2.0, 1.0, 2.0]);
    let grads = stack.gradients(&x, &c, RefLoss::CrossEntropy, RefMode::Train);
    let want_grads = [
        stack::GRAD_1_WEIGHT,
        stack::GRAD_1_BIAS,
        stack::GRAD_2_WEIGHT,
        stack::GRAD_2_BIAS,
        stack::GRAD_6_WEIGHT,
        stack::GRAD_6_BIAS,
        stack::GRAD_7_WEIGHT,
        stack::GRAD_7_BIAS,
        stack::GRAD_9_WEIGHT,
        stack::GRAD_9_BIAS,
    ];
    assert_eq!(grads.len(), want_grads.len());
    for ((name, g), want) in grads.iter().zip(want_grads) {
        assert_close(&g.data, want, TOL, &format!("step 1 grad {name}"));
    }
    let losses: Vec<f64> = (0..2)
        .map(|_| stack.sgd_step(&x, &c, RefLoss::CrossEntropy, 0.1, RefMode::Train))
        .collect();
    assert_close(&losses, stack::LOSSES, TOL, "losses");
    let want_after = [
        stack::AFTER_1_WEIGHT,
        stack::AFTER_1_BIAS,
        stack::AFTER_2_WEIGHT,
        stack::AFTER_2_BIAS,
        stack::AFTER_2_RUNNING_MEAN,
        stack::AFTER_2_RUNNING_VAR,
        stack::AFTER_2_NUM_BATCHES_TRACKED,
        stack::AFTER_6_WEIGHT,
        stack::AFTER_6_BIAS,
        stack::AFTER_7_WEIGHT,
        stack::AFTER_7_BIAS,
        stack::AFTER_9_WEIGHT,
        stack::AFTER_9_BIAS,
    ];
    for ((name, v), want) in stack.state_dict().iter().zip(want_after) {
        assert_close(&v.data, want, TOL, &format!("after two steps {name}"));
    }
    assert_close(
        &stack.forward(&x, RefMode::Eval).data,
        stack::EVAL_OUT,
        TOL,
        "eval output",
    );
}

// ```python
// import torch, torch.nn.functional as F
// nan, inf = float("nan"), float("inf")
// for v in [[1.0, nan, 5.0, nan], [-inf, -inf, -inf, -inf]]:
//     x = torch.tensor(v, dtype=torch.float64).reshape(1, 1, 2, 2)
//     print(F.max_pool2d(x, 2, return_indices=True))
// ```
// It printed `(tensor([[[[nan]]]]), tensor([[[[3]]]]))` and
// `(tensor([[[[-inf]]]]), tensor([[[[0]]]]))`: the last NaN wins, and an
// all `-inf` window routes to its first element.
#[test]
fn maxpool_nan_and_minus_infinity_windows() {
    let pool = RefMaxPool2d::new(2);
    let one = Array::new(vec![1, 1, 1, 1], vec![1.0]);
    let x = Array::new(vec![1, 1, 2, 2], vec![1.0, f64::NAN, 5.0, f64::NAN]);
    assert!(pool.forward(&x).data[0].is_nan());
    assert_eq!(pool.backward(&x, &one).data, [0.0, 0.0, 0.0, 1.0]);
    let x = Array::new(vec![1, 1, 2, 2], vec![f64::NEG_INFINITY; 4]);
    assert_eq!(pool.forward(&x).data, [f64::NEG_INFINITY]);
    assert_eq!(pool.backward(&x, &one).data, [1.0, 0.0, 0.0, 0.0]);
}

/// Ids `[b, t]` from `(i * a) % v`, as Python writes them:
/// `torch.tensor([(i * a) % v for i in range(b * t)]).reshape(b, t)`.
fn ids(b: usize, t: usize, a: usize, v: usize) -> Array {
    Array::from_fn(vec![b, t], |i| ((i * a) % v) as f64)
}

/// The names of `e`'s parameters.
fn names(e: &RefElement) -> Vec<String> {
    e.parameters().into_iter().map(|(n, _)| n).collect()
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// emb = nn.Embedding(5, 3, dtype=torch.float64)
// with torch.no_grad():
//     emb.weight.copy_(d([5, 3], 5, 11))
// ids = torch.tensor([(i * 3) % 5 for i in range(8)]).reshape(2, 4)
// y = emb(ids)
// (y * d(list(y.shape), 3, 7)).sum().backward()
// show("y", y); show("dw", emb.weight.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod embedding {
    pub const Y: &[f64] = &[-0.625, 0.0, 0.625, -0.5, 0.125, -0.625, -0.125, 0.5, -0.25, 0.0, 0.625, -0.125, 0.375, -0.375, 0.25, -0.625, 0.0, 0.625, -0.5, 0.125, -0.625, -0.125, 0.5, -0.25];
    pub const DW: &[f64] = &[-0.375, 0.375, 0.25, -0.25, -0.375, 0.375, -0.25, 0.125, -0.375, 0.125, 0.0, -0.125, 0.375, -0.125, 0.25];
}
// kinds: embedding
#[test]
fn embedding_gathers_rows_and_scatter_adds_their_gradient() {
    let e = RefElement::Embedding(RefEmbedding::new(d(&[5, 3], 5, 11)));
    let (y, dx, g) = run(e, &ids(2, 4, 3, 5), (3, 7), RefMode::Train);
    assert_eq!(y.shape, [2, 4, 3]);
    assert_close(&y.data, embedding::Y, TOL, "y");
    assert_eq!(dx, Array::zeros(vec![2, 4]), "ids get no gradient");
    assert_close(&g[0].data, embedding::DW, TOL, "dweight");
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// class Positional(nn.Module):
//     def __init__(self, T, D):
//         super().__init__(); self.weight = nn.Parameter(torch.empty(T, D)); nn.init.normal_(self.weight)
//     def forward(self, x): return x + self.weight[: x.shape[1]]
// pos = Positional(4, 3).double()
// with torch.no_grad():
//     pos.weight.copy_(d([4, 3], 5, 11))
// x = d([2, 3, 3], 7, 13).requires_grad_()
// y = pos(x)
// (y * d(list(y.shape), 3, 7)).sum().backward()
// show("y", y); show("dx", x.grad); show("dw", pos.weight.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod positional {
    pub const Y: &[f64] = &[-1.375, 0.125, 0.0, 0.125, 0.0, 0.125, 0.0, 0.125, 0.0, 0.0, -0.125, 1.375, -0.125, -0.25, -0.125, -0.25, -0.125, -0.25];
    pub const DX: &[f64] = &[-0.375, 0.0, 0.375, -0.125, 0.25, -0.25, 0.125, -0.375, 0.0, 0.375, -0.125, 0.25, -0.25, 0.125, -0.375, 0.0, 0.375, -0.125];
    pub const DW: &[f64] = &[0.0, -0.125, 0.625, -0.375, 0.375, -0.625, 0.125, 0.0, -0.125, 0.0, 0.0, 0.0];
}
// kinds: positional
#[test]
fn positional_adds_its_first_t_rows() {
    let p = RefElement::Positional(RefPositional::new(d(&[4, 3], 5, 11)));
    let (y, dx, g) = run(p, &d(&[2, 3, 3], 7, 13), (3, 7), RefMode::Train);
    assert_close(&y.data, positional::Y, TOL, "y");
    assert_close(&dx.data, positional::DX, TOL, "dx");
    assert_close(&g[0].data, positional::DW, TOL, "dweight");
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// x = d([2, 4, 4], 7, 13).requires_grad_()
// for name, m in [("lstm", nn.LSTM(4, 3, batch_first=True)), ("gru", nn.GRU(4, 3, batch_first=True))]:
//     m = m.double()
//     with torch.no_grad():
//         for k, (_, p) in enumerate(m.named_parameters()):
//             p.copy_(d(list(p.shape), 3 + 2 * k, 7 + 4 * k))
//     x.grad = None
//     y = m(x)[0]
//     (y * d(list(y.shape), 3, 7)).sum().backward()
//     show(f"{name}_names", [n for n, _ in m.named_parameters()])
//     show(f"{name}_y", y); show(f"{name}_dx", x.grad)
//     for n, p in m.named_parameters():
//         show(f"{name}_d{n}", p.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod recurrent {
    pub const LSTM_NAMES: &[&str] = &["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];
    pub const LSTM_Y: &[f64] = &[0.0350635185626635, -0.19982810465500495, 0.08109380945621943, 0.051946849228690604, -0.3028572003939742, 0.11300282676936416, 0.05986883026104871, -0.3544573735298967, 0.12922696845783851, 0.027934477635301692, -0.40961241033652834, 0.2404939701690499, 0.022535219836538823, -0.22207820760938912, 0.18765942687741582, 0.028549366780859894, -0.34893829466542875, 0.2648487661059858, 0.03162239928295598, -0.5362777948157931, 0.22869347322502134, 0.04693957718771493, -0.5179434377938356, 0.14318399832515263];
    pub const LSTM_DX: &[f64] = &[0.016640794637666288, -0.009336941978637296, 0.00516778998476562, -0.011588141738779579, -0.005622271258935491, 0.0010739412273417198, 0.0001571387033826874, 0.0065160856183642275, 0.03469393402728239, -0.008154332910467936, -0.023588850524642442, -0.010566355311460099, 0.025356842832028565, -0.0026833446896699425, -0.004965258488587107, -0.006315938392921879, -0.04664713898521857, 0.007859891600544677, 0.010157403452023116, 0.013648959620446426, -0.01721382996459178, 0.0008842849182073222, 0.024663245406079354, 0.005098487834726947, 0.0188605046038947, -0.005986886707869102, -0.0063378571852506956, -0.01250274834176734, 0.023702812735869862, -0.014570298684773535, 0.011385484427635135, -0.013486123610975533];
    pub const LSTM_DWEIGHT_IH_L0: &[f64] = &[0.014578880183967347, -0.003367513087151617, 0.011007445709513269, -0.00547900027612226, -0.0034302476926814686, 0.030667757371493288, -0.03542650168085715, 0.03385928132659265, -0.0029950804672446004, 0.002796551637480328, -0.005278630393008961, 0.0024844442241735622, 0.0019946747093895936, -0.0015357236207333516, 0.0014466120636178075, -0.0013255384754154622, -0.00029861753709245053, 0.010775554944309153, -0.011059460326632069, 0.014430128149023334, 0.0004200603416506369, -0.0016578549575879422, -0.00555755906547567, 0.00014832161353358795, 0.002103390445984377, -0.0018096633197033799, 0.0015443563659601955, -0.001964137690789705, 0.03917235815814037, -0.06023568795201925, 0.0664836069772775, -0.0612966621570053, -0.012047227028353551, 0.0066253981406344566, -0.014838030419676022, 0.008368069593974636, 0.019368971728675587, -0.008178099865597121, 0.008431999729426709, -0.00981245897163581, 0.0012484123554853295, 0.014236243932276377, -0.04684079030616918, 0.014016026289383206, -0.03765672113861726, 0.005683696211057658, -0.07572164458819101, 0.011497508903639604];
    pub const LSTM_DWEIGHT_HH_L0: &[f64] = &[0.0002359151259123203, 0.0018938048598409688, -0.0008668382578823355, 0.0024405405694523457, -0.017048936301281657, 0.00791469107328762, 0.00019432651531883365, -0.0016389032409857569, 0.0007449142385643211, 0.00016430385061090588, -1.0669147953929397e-06, -2.6594242525868078e-05, 0.0014506382448240859, -0.009757908972501911, 0.0044326059826450374, 0.000629086531382797, -0.006404793705424676, 0.003080380213829564, 0.00017378271579639203, -0.0003680564447955797, 0.0001182076173908074, -0.004860284675953633, 0.027879259099924135, -0.008258825500089759, 0.00037617634153725457, -0.004824356824777642, 0.002253122524519542, 0.00029874083666421667, 0.0017514702710854215, -0.0003419124217895286, 0.001341921443017253, -0.009414369456936028, 0.0027704044052010712, 0.0036282733122869537, -0.04039519090513126, 0.017643381445735087];
    pub const LSTM_DBIAS_IH_L0: &[f64] = &[-0.016891897511765154, 0.025532191640794878, -0.0024968593064541304, 0.0016814811625431134, 0.029236585637713457, 0.014449412568972237, -0.0012357949686906038, -0.008487793639888386, 0.013941371626721443, -0.01307487284830951, -0.001761741143145347, 0.04651050154065557];
    pub const LSTM_DBIAS_HH_L0: &[f64] = &[-0.016891897511765154, 0.025532191640794868, -0.002496859306454131, 0.0016814811625431136, 0.029236585637713457, 0.014449412568972236, -0.001235794968690604, -0.008487793639888386, 0.013941371626721441, -0.013074872848309507, -0.0017617411431453556, 0.046510501540655586];
    pub const GRU_NAMES: &[&str] = &["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"];
    pub const GRU_Y: &[f64] = &[0.35316661738006405, -0.10605856578466866, 0.41477885627051947, 0.5962097281038662, -0.1863098210702906, 0.6329365377971246, 0.7011035100457887, -0.24765363712767538, 0.7497874665079385, 0.41959703273478727, -0.2562415237053028, 0.8520818614897019, 0.2596942745394585, -0.050998401854378206, 0.5473389542273707, 0.35057848752421, -0.09556333729929822, 0.7547588892192214, 0.5539304861797929, -0.20675361625160027, 0.844913392851216, 0.6826966186797545, -0.25885670692287294, 0.8757612684618938];
    pub const GRU_DX: &[f64] = &[0.014325887842235348, -0.014734698195671792, -0.008721765910514339, -0.05732604437972827, -0.00022809175276911585, -0.0027905189795118957, -0.01055700626880545, 0.020116036661172863, 0.02224958518856654, 0.014149498219196243, -0.047156884417809436, 0.014920786462730543, -0.035034617204861465, 0.07196873765309048, -0.07715089557320517, 0.026926801331014806, 0.009969775427500995, -0.04960502892021452, 0.02476056782323621, 0.02228911977871632, -0.007400125120042122, 0.008475436671519336, 0.000567395785379703, -0.002602681591565674, -0.00645216452672449, 0.01845777302440775, -0.020164999421018185, 0.002833368960581638, 0.017689531583673448, -0.03009948989056172, 0.02431153866366826, -0.026568528625947628];
    pub const GRU_DWEIGHT_IH_L0: &[f64] = &[0.0059009344393692546, 0.0008287902974761987, 0.0017558359805232811, -0.000730980680105185, -0.002541099901888655, 0.003568985148424583, -0.0036893903563152528, 0.004083945308774538, -0.005287015961121157, 0.0024159729756148473, -0.0070108766214502915, 0.003227441363915235, -0.07366790971704604, -0.016172750194469, -0.0424838933919201, 0.0006930372333188838, 0.0009780889393546204, -0.02322375417161101, 0.034617325244006104, -0.028274823827899153, 0.03148405102613606, -0.02926938627299356, 0.057690594963448145, -0.028872002537881067, 0.14736850899929604, -0.1488669445916055, 0.06284005822892183, -0.14026171893704775, 0.04187244112202268, -0.06611263607107964, 0.052388457950282206, -0.08044104989715269, -0.07617351345719608, 0.030068074821490078, -0.09061222079184487, 0.04182704104639083];
    pub const GRU_DWEIGHT_HH_L0: &[f64] = &[0.003926931519319565, -0.0012192825658447813, 0.004599903166909161, 0.002881775330339266, -0.0009293721632751807, 0.0032051359029324276, 0.002127037077276692, -0.0007503325617280688, 0.003527249666971423, 0.021086427305502524, -0.007927276717842706, 0.02324066259116161, -0.0224139918185951, 0.006853360206802829, -0.03150978729063224, -0.017848240539384046, 0.005868140300440881, -0.02756999924259023, 0.021871811944467107, -0.007123301724292815, 0.022468657639270414, -0.024349664254621678, 0.007946616324992562, -0.026731576327390955, 0.01973152322484174, -0.007072876285297486, 0.03340523950188184];
    pub const GRU_DBIAS_IH_L0: &[f64] = &[-0.012478167820651075, 0.004119681282799642, 0.006491747106403101, 0.1349262994223031, -0.04040855725030518, 0.0031790698808998926, 0.06884180523646215, -0.1146273106085842, 0.09407172979920597];
    pub const GRU_DBIAS_HH_L0: &[f64] = &[-0.012478167820651075, 0.004119681282799643, 0.006491747106403101, 0.13492629942230308, -0.04040855725030518, 0.003179069880899891, 0.00791152265949828, -0.03242302084443935, 0.08780366196436669];
}
// kinds: lstm gru
#[test]
fn lstm_and_gru_through_time() {
    // gates = 4 (LSTM) or 3 (GRU); tensor k as PyTorch's loop fills it
    let tensors = |gates: usize| {
        let shapes = [
            vec![gates * 3, 4],
            vec![gates * 3, 3],
            vec![gates * 3],
            vec![gates * 3],
        ];
        let [a, b, c, e] = [0, 1, 2, 3].map(|k| d(&shapes[k], 3 + 2 * k, 7 + 4 * k));
        (a, b, c, e)
    };
    let (a, b, c, e) = tensors(4);
    let lstm = RefElement::Lstm(RefLstm::new(a, b, c, e));
    let (a, b, c, e) = tensors(3);
    let gru = RefElement::Gru(RefGru::new(a, b, c, e));
    let x = d(&[2, 4, 4], 7, 13);
    type Want<'a> = (&'a [&'a str], [&'a [f64]; 6]);
    let cases: [(&str, RefElement, Want); 2] = [
        (
            "lstm",
            lstm,
            (
                recurrent::LSTM_NAMES,
                [
                    recurrent::LSTM_Y,
                    recurrent::LSTM_DX,
                    recurrent::LSTM_DWEIGHT_IH_L0,
                    recurrent::LSTM_DWEIGHT_HH_L0,
                    recurrent::LSTM_DBIAS_IH_L0,
                    recurrent::LSTM_DBIAS_HH_L0,
                ],
            ),
        ),
        (
            "gru",
            gru,
            (
                recurrent::GRU_NAMES,
                [
                    recurrent::GRU_Y,
                    recurrent::GRU_DX,
                    recurrent::GRU_DWEIGHT_IH_L0,
                    recurrent::GRU_DWEIGHT_HH_L0,
                    recurrent::GRU_DBIAS_IH_L0,
                    recurrent::GRU_DBIAS_HH_L0,
                ],
            ),
        ),
    ];
    for (what, e, (want_names, want)) in cases {
        assert_eq!(names(&e), want_names);
        let (y, dx, g) = run(e, &x, (3, 7), RefMode::Train);
        assert_eq!(y.shape, [2, 4, 3]);
        assert_close(&y.data, want[0], TOL, &format!("{what} y"));
        assert_close(&dx.data, want[1], TOL, &format!("{what} dx"));
        for (k, name) in want_names.iter().enumerate() {
            assert_close(&g[k].data, want[2 + k], TOL, &format!("{what} d{name}"));
        }
    }
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// x = d([2, 4, 6], 7, 13).requires_grad_()
// for name, heads, causal in [("full", 2, False), ("causal", 3, True)]:
//     m = nn.MultiheadAttention(6, heads, batch_first=True, dtype=torch.float64)
//     with torch.no_grad():
//         for k, (_, p) in enumerate(m.named_parameters()):
//             p.copy_(d(list(p.shape), 3 + 2 * k, 7 + 4 * k))
//     mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64) if causal else None
//     x.grad = None
//     y = m(x, x, x, attn_mask=mask, need_weights=False)[0]
//     (y * d(list(y.shape), 3, 7)).sum().backward()
//     show(f"{name}_names", [n for n, _ in m.named_parameters()])
//     show(f"{name}_y", y); show(f"{name}_dx", x.grad)
//     for n, p in m.named_parameters():
//         show(f"{name}_d{n.replace('.', '_')}", p.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod attention {
    pub const FULL_NAMES: &[&str] = &["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"];
    pub const FULL_Y: &[f64] = &[-1.5264591675320485, -0.8568400538790975, 0.7388365516633892, 0.9102772592295387, 1.5725505131356883, -0.6514591675320485, -1.5334787388769424, -0.8323672585899261, 0.7498321019726226, 0.8925938807443263, 1.5506711252552172, -0.6584787388769423, -1.421467796694405, -0.9006707784986392, 0.5140715009661276, 0.9437785192807138, 1.637854164810967, -0.5464677966944049, -1.4284895575536285, -0.8748924836952239, 0.5247272944195097, 0.9251781417822491, 1.6149264803716528, -0.5534895575536285, -1.665238977966621, -0.7580925460784065, 0.7066491589327827, 0.8728944162814771, 1.5599158224472953, -0.7902389779666211, -1.67805182590455, -0.8856643165268667, 0.6553106857538957, 0.9646715067952063, 1.6778081808123178, -0.8030518259045499, -1.7014313867831383, -1.0647409821646938, 0.4683623064011403, 1.093546145851834, 1.875530031786271, -0.8264313867831383, -1.6377874153110303, -0.9120743779533812, 0.5380612584096783, 0.9792771700396454, 1.7281620750799016, -0.7627874153110302];
    pub const FULL_DX: &[f64] = &[0.030158696294476206, -0.015386766755437927, -0.09862823594016011, 0.1260154031085683, -0.13182706000566619, 0.1390329904717052, -0.041856483576205104, 0.008250591618320965, -0.01590571395490135, 0.036745367955616434, -0.04058130181174108, 0.05504529750852549, 0.07042075412565835, -0.009043686682223273, 0.01477205465296683, -0.018259265478939288, -0.10800989164369793, 0.1635148914474256, 0.11389800706465894, -0.04708878785873255, 0.029608804944270695, -0.02815311137251597, -0.12760109159583438, 0.2060670651328652, 0.11073063372870523, -0.030907288096909572, 0.0812810559674957, -0.115838955022333, 0.04528808636050881, -0.13541065427528906, 0.1046100452264467, 0.006080213156711003, 0.06676555118759595, -0.13063931262255163, 0.024633821513953567, -0.0991581383514458, 0.14912291807153044, -0.09247026059974682, 0.08140532096078484, -0.10961490976805964, 0.020023622520659413, -0.05107884159047174, 0.11473800462762102, -0.08332111345763996, 0.06276978130613052, -0.14227680217980174, 0.09036838498765748, -0.15956072514403286];
    pub const FULL_DIN_PROJ_WEIGHT: &[f64] = &[-0.003851275651104733, -0.030246342989664027, 0.06876152703553864, 0.03423411334025604, 0.07107373076131404, 0.03654631706603144, 0.0031967452244572887, 0.06025317483981703, -0.066864369969207, -0.028343150764464406, -0.06495697413852443, -0.02643575493378184, -0.007929924928744711, -0.03322001127549849, 0.03443864265062445, 0.018963670111831803, 0.03193770818216629, 0.016462735643373656, 0.008514617905285128, 0.008032860739847726, -0.0010100999470431136, -0.0069865873709696056, -0.0005738887901238316, -0.006550376214050321, -0.02482873970826744, -0.0036702334865780853, -0.006457450060434566, 0.017598304916979484, -0.005308757769466713, 0.018746997207947334, 0.04970553525488637, -0.011989710194754458, 0.02387638852232149, -0.030890607762324843, 0.019246577505570975, -0.03552041877907536, 0.02265461962049739, -0.011686456003441675, -0.03599213325113759, 0.029084647112045454, -0.035992133251137585, 0.02908464711204544, 0.006554794491444433, 0.00698767612394622, -0.030098207752763638, 0.026783781693091552, -0.03009820775276364, 0.026783781693091556, -0.03156689934722263, 0.028065387561695077, 0.011875625386068529, -0.0027448783573413987, 0.011875625386068529, -0.002744878357341392, -0.007791812005290051, 0.007122663235948767, -0.0246889734761749, 0.024933928647293616, -0.024688973476174894, 0.02493392864729362, 0.015621778948598779, -0.007731454758098303, 0.053979436978937104, -0.05724015214461149, 0.05397943697893711, -0.05724015214461149, -0.03582613965993518, 0.03305881182642808, -0.061086418669120145, 0.06314926198111931, -0.061086418669120145, 0.0631492619811193, 0.21679229721263088, 0.17410951201340916, -0.161559697201997, -0.09914171418358361, -0.09515344720199695, -0.032735464183583626, -0.08281446261429967, -0.07449879619894811, 0.07254332679881251, 0.044030176319421174, 0.03738707679881251, 0.008873926319421167, 0.07848698656032094, 0.07050689850075575, 0.012568417562883138, 0.054053497300470404, -0.06555658243711684, -0.024071502699529596, -0.0791582381462064, -0.08009115603461875, 0.06505681645475435, 0.05773447425643982, 0.03185369145475436, 0.02453134925643983, 0.024094340471897686, 0.10499281104127657, -0.02204383395795041, 0.08819434278742481, -0.09821570895795038, 0.012022467787424839, 0.036015975937024235, -0.15906779144908562, 0.09176926811982777, -0.12829794550016474, 0.14840989311982777, -0.07165732050016474];
    pub const FULL_DIN_PROJ_BIAS: &[f64] = &[0.01849762980620309, 0.015259166645460509, -0.02000747574766523, 0.003489689255354266, 0.009189538327742823, -0.037038488134004136, -1.3877787807814457e-17, 5.204170427930421e-18, 2.7755575615628914e-17, -1.734723475976807e-18, 1.0408340855860843e-17, -2.2551405187698492e-17, 0.5312499999999998, -0.28124999999999994, -0.625, -0.265625, -0.6093749999999999, 0.45312499999999994];
    pub const FULL_DOUT_PROJ_WEIGHT: &[f64] = &[0.012159631009989218, -0.2214442930321548, 0.050052251837644085, -0.17757037260921799, 0.07539958194847937, -0.1530423890465698, -0.006997335537641418, 0.0954851622042597, -0.12347213426679976, -0.045352084314556465, -0.0026998106674758354, -0.03269880772998919, 0.013316779603825858, 0.22106993908346867, -0.06306467826167923, 0.15387035487225514, -0.09066993435349918, 0.18673002952029152, 0.021627926788429813, -0.075720834269502, -0.004452752943611908, -0.07637096037185041, 0.011576464910312556, -0.024507973719952857, -0.059003960855055555, 0.12902351223186145, 0.01274384605663173, 0.16080043383711595, -0.03839570102070237, 0.09997497187566039, -0.03336671112215696, -0.1814462441914416, 0.07880311615619229, -0.06739536820845585, 0.06584552770472181, -0.1163007887555363];
    pub const FULL_DOUT_PROJ_BIAS: &[f64] = &[-0.375, 0.0, 0.375, -0.125, 0.25, -0.25];
    pub const CAUSAL_NAMES: &[&str] = &["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"];
    pub const CAUSAL_Y: &[f64] = &[-0.92578125, -1.3828125, -0.2578125, 1.24609375, 2.13671875, -0.05078125, -0.9966486027546229, -1.4785737249524993, -0.331783344019164, 1.3638749531793732, 2.2296060809814966, -0.12164860275462286, -1.3085690256067513, -1.0356087825793376, 0.2835923422534923, 1.0213111398303634, 1.7857488200747293, -0.43356902560675115, -1.4831063029281997, -0.8566205695867046, 0.5497972771324053, 0.9061737622418573, 1.6054869995816858, -0.6081063029281997, -2.37890625, -1.751953125, 0.046875, 1.7265625, 2.55859375, -1.50390625, -1.7386122666143502, -1.6625580674218305, -0.139412803231711, 1.5908730734386702, 2.438412709494515, -0.8636122666143502, -1.6590093073046788, -1.2243005140145091, 0.14389837255319904, 1.2458033344765937, 2.0473982155675086, -0.7840093073046787, -1.6997375975607294, -0.9203508003762062, 0.5155731447301151, 0.9983219272132537, 1.7307906552548844, -0.8247375975607294];
    pub const CAUSAL_DX: &[f64] = &[0.5517368062068706, -0.21367134615499028, 0.09533256712230756, -0.16567382013193957, -0.3489915189548396, 0.3418095365770252, -0.09650611301411612, 0.014906277092243504, -0.10735283025872386, 0.21233011884174793, -0.12128842674413984, 0.23882105579985552, -0.061348894470097066, 0.06122373967090868, -0.04207854561423881, 0.09195720559791408, -0.04531020048660129, 0.028939825041071357, -0.17821454316816382, 0.05017910880367687, 0.009022500601058265, -0.03372755723558335, 0.10754515863948715, -0.05291625311372441, 0.03863860332716326, 0.005938316727806148, 0.1138097648381775, -0.1653385071576644, 0.2320219364632085, -0.4011153429960246, 0.09362416582129299, -0.037332430535921377, 0.08432949004669704, -0.18405347955223306, 0.03753689787738779, -0.06649625118737797, 0.12764757822603945, -0.07146028157782489, 0.07844257061850064, -0.08509161871528964, -0.002854593228983092, -0.032610786628758416, 0.1855596730831751, -0.07682733329862826, 0.0012420952384428995, -0.0677206450552991, -0.0700381521207718, 0.04013376665561083];
    pub const CAUSAL_DIN_PROJ_WEIGHT: &[f64] = &[0.009705047522532283, -0.021912857812863687, 0.013237368713539761, -0.006274734954298103, 0.016769689904547233, -0.002742413763290631, 0.001187274519407911, -0.0005247167075517409, 0.002385622036747588, -0.007288091162514304, 0.0035839695540872615, -0.006089743645174624, 0.00741520795306931, -0.052611860193264026, 0.006746283040143885, 0.011331598365709494, 0.006077358127218463, 0.010662673452784068, -0.009402853760000674, 0.018865107186140827, -0.008882798000997843, -0.012319644718489637, -0.008362742241995012, -0.011799588959486806, 0.0007320764799473153, -0.012397096260983577, 0.0011478654508777567, 0.007044238835518184, 0.0015636544218082006, 0.007460027806448627, 0.0055406444890571975, -0.008976652732953847, 0.0063933427206974945, -0.0004042786586162788, 0.007246040952337792, 0.0004484195730240191, 0.00820818743144845, -0.025818464719240635, -0.000510162952882684, -0.0031573454927428905, -0.000510162952882684, -0.0031573454927428957, -0.00674237695764285, -0.005260628909909035, -0.0024733255830085956, 0.01424226954926727, -0.002473325583008593, 0.014242269549267272, -0.016522119014770447, 0.049464251697457225, -0.0046677111779248924, 0.010675688424247468, -0.004667711177924893, 0.010675688424247466, 0.023099422739779434, -0.009624989155955228, -0.017194833425887814, 0.012195164052780951, -0.017194833425887814, 0.01219516405278095, -0.002858729686737365, 0.00694980509707842, 0.007453592303829343, -0.010627071861247514, 0.007453592303829343, -0.010627071861247516, -0.011990681565475595, -0.0004337557489283981, -0.0015546219677857118, 0.012555159579226604, -0.0015546219677857122, 0.012555159579226604, 0.31862550908718534, 0.12089624942866489, -0.52517482443767, -0.10685933269651829, -0.4587685744376701, -0.0404530826965183, -0.11903403653490949, 0.021202926404651726, 0.07692021733960869, 0.08114270241083985, 0.04176396733960865, 0.045986452410839845, 0.6072454494723695, -0.06225287231647808, 0.2917271292240591, -0.06942532272421595, 0.2136021292240592, -0.147550322724216, -0.09479431471873048, 0.020148715517369194, 0.08471299930707693, 0.07019173746602593, 0.05150987430707689, 0.03698861246602594, 0.6278430759100506, -0.07809182297003044, 0.27890788370458214, -0.0785352662003428, 0.20273600870458208, -0.1547071412003428, -0.57825218473718, 0.17736224301794268, -0.18757329838115597, 0.19700067149848266, -0.13093267338115594, 0.2536412964984827];
    pub const CAUSAL_DIN_PROJ_BIAS: &[f64] = &[0.028258569528059774, 0.00958678013871743, -0.005351399303403392, 0.004160446072022653, 0.003326311767443541, 0.006821585853122383, -2.0816681711721685e-17, 1.5612511283791264e-17, -2.42861286636753e-17, -1.3010426069826053e-17, -6.0173220572945496e-18, 2.6020852139652106e-18, 0.53125, -0.28125, -0.6250000000000003, -0.265625, -0.6093750000000002, 0.4531250000000001];
    pub const CAUSAL_DOUT_PROJ_WEIGHT: &[f64] = &[0.08549866489457231, -0.26238512067545927, 0.07200786174462895, -0.15212221340522508, 0.017586506034812717, -0.07784860393856007, 0.1971878162827202, 0.0027396684562994433, -0.19331948839880242, -0.010548360757171416, -0.07637985235694988, 0.08367844031549147, -0.21776921805631358, 0.33566945351205557, -0.045423680303472116, 0.17918212712082598, -0.008714334697209697, 0.047154561839981096, -0.12797516560151537, 0.07919554800722188, -0.08658975148650788, -0.04834125528223841, 0.03442157363283292, -0.09781151040825739, -0.14338208730846058, 0.08408164094184989, 0.2054018652052405, 0.06966476708706293, 0.06683208264860654, -0.0066067662037167935, 0.14178193398169325, -0.3001811416071781, 0.23409309865932876, -0.17763807740115178, 0.07317354651038707, -0.08048029488290717];
    pub const CAUSAL_DOUT_PROJ_BIAS: &[f64] = &[-0.375, 0.0, 0.375, -0.125, 0.25, -0.25];
}
// kinds: attention
#[test]
fn attention_full_and_causal() {
    let x = d(&[2, 4, 6], 7, 13);
    let p = |k: usize, shape: &[usize]| d(shape, 3 + 2 * k, 7 + 4 * k);
    type Case<'a> = (usize, bool, &'a [&'a str], [&'a [f64]; 6]);
    let cases: [Case; 2] = [
        (
            2,
            false,
            attention::FULL_NAMES,
            [
                attention::FULL_Y,
                attention::FULL_DX,
                attention::FULL_DIN_PROJ_WEIGHT,
                attention::FULL_DIN_PROJ_BIAS,
                attention::FULL_DOUT_PROJ_WEIGHT,
                attention::FULL_DOUT_PROJ_BIAS,
            ],
        ),
        (
            3,
            true,
            attention::CAUSAL_NAMES,
            [
                attention::CAUSAL_Y,
                attention::CAUSAL_DX,
                attention::CAUSAL_DIN_PROJ_WEIGHT,
                attention::CAUSAL_DIN_PROJ_BIAS,
                attention::CAUSAL_DOUT_PROJ_WEIGHT,
                attention::CAUSAL_DOUT_PROJ_BIAS,
            ],
        ),
    ];
    for (heads, causal, want_names, want) in cases {
        let att = RefAttention::new(
            p(0, &[18, 6]),
            p(1, &[18]),
            p(2, &[6, 6]),
            p(3, &[6]),
            heads,
            causal,
        );
        let e = RefElement::Attention(att);
        assert_eq!(names(&e), want_names);
        let what = if causal { "causal" } else { "full" };
        let (y, dx, g) = run(e, &x, (3, 7), RefMode::Train);
        assert_close(&y.data, want[0], TOL, &format!("{what} y"));
        assert_close(&dx.data, want[1], TOL, &format!("{what} dx"));
        for (k, name) in want_names.iter().enumerate() {
            assert_close(&g[k].data, want[2 + k], TOL, &format!("{what} d{name}"));
        }
    }
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// x = (d([3, 4], 7, 11) * 4).requires_grad_()
// y = nn.GELU()(x)
// (y * d([3, 4], 3, 7)).sum().backward()
// show("x", x); show("y", y); show("dx", x.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod gelu {
    pub const X: &[f64] = &[-2.5, 1.0, -1.0, 2.5, 0.5, -1.5, 2.0, 0.0, -2.0, 1.5, -0.5, -2.5];
    pub const Y: &[f64] = &[-0.015524163314440398, 0.841344746068543, -0.15865525393145702, 2.4844758366855597, 0.34573123063700656, -0.10021080190328704, 1.9544997361036416, 0.0, -0.04550026389635842, 1.399789198096713, -0.15426876936299344, -0.015524163314440398];
    pub const DX: &[f64] = &[0.014104157215554448, 0.0, -0.03124330147038238, -0.12970138573851814, 0.2168737811640407, 0.0318672980574949, 0.13565397513477462, -0.1875, -0.0, 0.42280094708624233, -0.01656310941797964, -0.009402771477036298];
}
// kinds: gelu
#[test]
fn gelu_the_exact_erf_form() {
    let x = d(&[3, 4], 7, 11).map(|v| v * 4.0);
    assert_eq!(x.data, gelu::X);
    let (y, dx, _) = run(
        RefElement::Activation(RefActivation::Gelu),
        &x,
        (3, 7),
        RefMode::Train,
    );
    assert_close(&y.data, gelu::Y, TOL, "y");
    assert_close(&dx.data, gelu::DX, TOL, "dx");
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// x = d([2, 3, 4], 7, 11).requires_grad_()
// for name, f in [("last", lambda v: v[:, -1]), ("seqmean", lambda v: v.mean(1))]:
//     x.grad = None
//     y = f(x)
//     (y * d(list(y.shape), 3, 7)).sum().backward()
//     show(f"{name}_y", y); show(f"{name}_dx", x.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod reduce {
    pub const LAST_Y: &[f64] = &[-0.5, 0.375, -0.125, -0.625, 0.375, -0.125, -0.625, 0.25];
    pub const LAST_DX: &[f64] = &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.375, 0.0, 0.375, -0.125, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25, -0.25, 0.125, -0.375];
    pub const SEQMEAN_Y: &[f64] = &[-0.3333333333333333, 0.08333333333333333, 0.041666666666666664, 0.0, 0.08333333333333333, 0.041666666666666664, 0.0, -0.041666666666666664];
    pub const SEQMEAN_DX: &[f64] = &[-0.125, 0.0, 0.125, -0.041666666666666664, -0.125, 0.0, 0.125, -0.041666666666666664, -0.125, 0.0, 0.125, -0.041666666666666664, 0.08333333333333333, -0.08333333333333333, 0.041666666666666664, -0.125, 0.08333333333333333, -0.08333333333333333, 0.041666666666666664, -0.125, 0.08333333333333333, -0.08333333333333333, 0.041666666666666664, -0.125];
}
// kinds: last seqmean
#[test]
fn last_and_seqmean() {
    let x = d(&[2, 3, 4], 7, 11);
    let cases: [(RefSeqReduce, &[f64], &[f64]); 2] = [
        (RefSeqReduce::Last, reduce::LAST_Y, reduce::LAST_DX),
        (RefSeqReduce::Mean, reduce::SEQMEAN_Y, reduce::SEQMEAN_DX),
    ];
    for (r, want_y, want_dx) in cases {
        let (y, dx, _) = run(RefElement::SeqReduce(r), &x, (3, 7), RefMode::Train);
        assert_eq!(y.shape, [2, 4]);
        assert_close(&y.data, want_y, TOL, &format!("{r:?} y"));
        assert_close(&dx.data, want_dx, TOL, &format!("{r:?} dx"));
    }
}

/// `nn.Linear(i, o)` with zero parameters, filled in later.
fn lin(o: usize, i: usize) -> RefElement {
    RefElement::Dense(RefDense::new(
        Array::zeros(vec![o, i]),
        Some(Array::zeros(vec![o])),
    ))
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// class Residual(nn.Sequential):
//     def forward(self, x): return x + super().forward(x)
// model = nn.Sequential(
//     nn.Linear(4, 4),
//     Residual(nn.LayerNorm(4), Residual(nn.Linear(4, 5), nn.GELU(), nn.Linear(5, 4)), nn.Tanh()),
// ).double()
// with torch.no_grad():
//     for k, (_, p) in enumerate(model.named_parameters()):
//         p.copy_(d(list(p.shape), 2 + k, 11))
// show("names", [n for n, _ in model.named_parameters()])
// x = d([2, 3, 4], 7, 13).requires_grad_()
// y = model(x)
// (y * d(list(y.shape), 3, 7)).sum().backward()
// show("y", y); show("dx", x.grad)
// for n, p in model.named_parameters():
//     show(f"d{n.replace('.', '_')}", p.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod residual {
    pub const NAMES: &[&str] = &["0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.1.0.weight", "1.1.0.bias", "1.1.2.weight", "1.1.2.bias"];
    pub const Y: &[f64] = &[-0.9251554684705149, 0.46552372159163846, 0.29969125632804106, -0.12029672321499918, -1.0576242668289202, 0.5548957871303923, 0.3565862334631805, -0.11770478969367337, -1.1703496891361962, 0.6384025717820753, 0.403810859200036, -0.0998348357543305, -1.0678557568982652, 0.1515642245949378, 1.2319435800151959, -0.36095114223659597, -1.1644831821280053, 0.22291043759494722, 1.2568043454565982, -0.34229968193245364, -1.2913194993811854, 0.2877140431035209, 1.2780525342795221, -0.31809738558230005];
    pub const DX: &[f64] = &[0.19159229385987084, 0.1603422938598708, 0.3047049982598147, -0.3262733209727839, -0.04275630263190758, -0.10525630263190755, 0.1426279262842709, -0.18950250078639652, 0.08212061552513258, 0.20712061552513258, -0.21617493791378448, 0.047179512683909755, 0.08292977013222624, -0.042070229867773756, -0.20778375179723407, 0.25452775268160915, -0.04668054384223991, 0.01581945615776007, 0.028709124600984563, -0.19388848485335675, -0.2428970248124279, -0.21164702481242792, 0.21217250196291526, 0.11192032150856321];
    pub const D0_WEIGHT: &[f64] = &[0.2508913581226611, -0.03112005400572863, 0.2497003823895336, -0.0323110297388562, -0.024766855345570826, 0.17973899743572075, -0.04658022381523558, 0.15792562896605597, -0.3003617074324347, 0.2579383250548291, -0.24942601823830546, 0.30887401424895833, 0.29298720465534434, 0.015317731515178845, 0.26505585966400746, -0.012613613476158102];
    pub const D0_BIAS: &[f64] = &[-0.0095278058650205, -0.17450694775731823, 0.4074855135530342, -0.2234507599306954];
    pub const D1_0_WEIGHT: &[f64] = &[-0.45116533618148064, 0.027083975645077224, -0.2046874458232627, -0.10196589641549608];
    pub const D1_0_BIAS: &[f64] = &[0.27255980758144827, 0.012227647961491582, 0.2258714964668892, 0.014812041822664185];
    pub const D1_1_0_WEIGHT: &[f64] = &[0.0016583362300222357, 0.001913671856473506, 0.019288428843579775, -0.013849355871877092, 0.039672451956085625, -0.00214738237861179, 0.017204812866508906, 0.0467308562411864, -0.035612020238533305, 0.007745587578446445, 0.03935747106197176, -0.08147474653850001, -0.07492624468178456, -0.010778390966886044, -0.20522133921126134, 0.08250060298898149, 0.09782396514447264, 0.005997519394782307, 0.18529057922008513, -0.05499705480831384];
    pub const D1_1_0_BIAS: &[f64] = &[0.020973191716620557, -0.032187111636294306, 0.09014306777017361, -0.17353679702241698, 0.1370070245076937];
    pub const D1_1_2_WEIGHT: &[f64] = &[-0.027201519177723316, -0.039557113401968935, 0.01336061940895571, 0.24990074016268699, 0.1673866794333562, 0.009262794823846815, 0.00929080061569661, -0.004446283187137488, -0.077080724427801, -0.05689613801174241, -0.03531062749882194, -0.011680871316798219, 0.0698416937604391, 0.16639922156172182, 0.01660468246348304, 0.0003183292058366975, -0.008912867830664998, -0.013830276375959988, 0.040532604964552355, 0.048544546760463825];
    pub const D1_1_2_BIAS: &[f64] = &[0.2551802344494144, -0.08717989388011918, 0.2031920014178833, 0.03405129624807008];
}
// kinds: residual linear gelu tanh layernorm
#[test]
fn a_residual_block_inside_a_residual_block() {
    let mut stack = RefStack::new(vec![
        lin(4, 4),
        RefElement::Residual(RefResidual::new(vec![
            RefElement::LayerNorm(RefLayerNorm::new(4)),
            RefElement::Residual(RefResidual::new(vec![
                lin(5, 4),
                RefElement::Activation(RefActivation::Gelu),
                lin(4, 5),
            ])),
            RefElement::Activation(RefActivation::Tanh),
        ])),
    ]);
    for (k, (_, p)) in stack.parameters_mut().into_iter().enumerate() {
        *p = d(&p.shape, 2 + k, 11);
    }
    let names: Vec<String> = stack.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, residual::NAMES);
    let x = d(&[2, 3, 4], 7, 13);
    let y = stack.forward(&x, RefMode::Train);
    let (dx, grads) = stack.backward(&x, &d(&y.shape, 3, 7), RefMode::Train);
    assert_close(&y.data, residual::Y, TOL, "y");
    assert_close(&dx.data, residual::DX, TOL, "dx");
    let want = [
        residual::D0_WEIGHT,
        residual::D0_BIAS,
        residual::D1_0_WEIGHT,
        residual::D1_0_BIAS,
        residual::D1_1_0_WEIGHT,
        residual::D1_1_0_BIAS,
        residual::D1_1_2_WEIGHT,
        residual::D1_1_2_BIAS,
    ];
    assert_eq!(grads.len(), want.len());
    for ((name, g), want) in grads.iter().zip(want) {
        assert_close(&g.data, want, TOL, &format!("d{name}"));
    }
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// class Residual(nn.Sequential):
//     def forward(self, x): return x + super().forward(x)
// model = nn.Sequential(
//     nn.Linear(4, 3),
//     Residual(nn.BatchNorm1d(3), nn.Tanh(), Residual(nn.Linear(3, 3), nn.BatchNorm1d(3))),
//     nn.Linear(3, 3),
// ).double()
// with torch.no_grad():
//     for k, (name, p) in enumerate(model.named_parameters()):
//         p.copy_(d(list(p.shape), 2 + k, 11) + (1 if name in ("1.0.weight", "1.2.1.weight") else 0))
// print("names =", [n for n, _ in model.state_dict().items()])
// x = d([5, 4], 7, 13)
// c = torch.tensor([0, 2, 1, 2, 0])
// opt = torch.optim.SGD(model.parameters(), lr=0.1)
// model.train()
// losses = []
// for step in range(2):
//     opt.zero_grad()
//     loss = F.cross_entropy(model(x), c)
//     loss.backward()
//     opt.step()
//     losses.append(loss.item())
// show("losses", losses)
// for name, v in model.state_dict().items():
//     show(f"after_{name.replace('.', '_')}", v.double())
// model.eval()
// show("eval_out", model(x))
// ```
// It printed the values below.
#[rustfmt::skip]
mod bnblocks {
    pub const NAMES: &[&str] = &["0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.0.running_mean", "1.0.running_var", "1.0.num_batches_tracked", "1.2.0.weight", "1.2.0.bias", "1.2.1.weight", "1.2.1.bias", "1.2.1.running_mean", "1.2.1.running_var", "1.2.1.num_batches_tracked", "2.weight", "2.bias"];
    pub const LOSSES: &[f64] = &[1.3571465929200495, 1.2442482119949119];
    pub const AFTER_0_WEIGHT: &[f64] = &[-0.6279426528580249, -0.3575286259093092, -0.12364977431378615, 0.1467642526349295, 0.365007406712433, 0.6289976906614474, -0.5141694154231826, -0.2501791314741683, -0.03727294608859521, 0.21114219217122018, 0.4585925293954376, -0.667992332344747];
    pub const AFTER_0_BIAS: &[f64] = &[-0.5906569716460904, -0.28341457708492507, 0.09192380387226255];
    pub const AFTER_1_0_WEIGHT: &[f64] = &[0.37138739508173896, 0.8776950342160751, 1.3770751396116132];
    pub const AFTER_1_0_BIAS: &[f64] = &[-0.6044135256908622, -0.010295734255384872, 0.6160918018854044];
    pub const AFTER_1_0_RUNNING_MEAN: &[f64] = &[-0.07980968556744553, -0.06277411252548269, -0.0024795934016227958];
    pub const AFTER_1_0_RUNNING_VAR: &[f64] = &[0.8202802180570442, 0.8224059662183901, 0.8379605698109783];
    pub const AFTER_1_0_NUM_BATCHES_TRACKED: &[f64] = &[2.0];
    pub const AFTER_1_2_0_WEIGHT: &[f64] = &[-0.6401705690063362, 0.11652048643008282, -0.48286149619800217, 0.26682369372272197, -0.3745661896466493, 0.36394896381164266, -0.2346256774790871, 0.5040902279316116, -0.13854901056544885];
    pub const AFTER_1_2_0_BIAS: &[f64] = &[-0.625, 0.25, -0.25];
    pub const AFTER_1_2_1_WEIGHT: &[f64] = &[0.3961217241239336, 1.3607628958562716, 1.0123731502244888];
    pub const AFTER_1_2_1_BIAS: &[f64] = &[-0.5906569716460904, 0.46658542291507493, 0.2169238038722626];
    pub const AFTER_1_2_1_RUNNING_MEAN: &[f64] = &[-0.06855673586172047, 0.028351301258182356, -0.02289222358803038];
    pub const AFTER_1_2_1_RUNNING_VAR: &[f64] = &[0.8423205224861559, 0.8656910691624071, 0.8489846171004782];
    pub const AFTER_1_2_1_NUM_BATCHES_TRACKED: &[f64] = &[2.0];
    pub const AFTER_2_WEIGHT: &[f64] = &[-0.5245885973647965, 0.6133833628914208, 0.4627333039900083, 0.3516622487469965, 0.23810277423157636, 0.14734817581509257, -0.07707365138220006, -0.10148613712299709, -0.23508147980510086];
    pub const AFTER_2_BIAS: &[f64] = &[-0.6760708100321229, -0.6129602852666763, -0.5859689047012008];
    pub const EVAL_OUT: &[f64] = &[0.1649132962147205, -1.0069017414887913, -0.485709162070457, 0.3564925548526059, -1.090928905774872, -0.47529308883925314, 0.5464237878981271, -1.1725244045326595, -0.4652409053871408, 0.8313987456864593, -1.1259640806861881, -0.6727259948987003, 1.0207037898722147, -1.2075345788199763, -0.6624652116339075];
}
#[test]
fn batchnorms_inside_residual_blocks_train_like_pytorch() {
    let mut stack = RefStack::new(vec![
        lin(3, 4),
        RefElement::Residual(RefResidual::new(vec![
            RefElement::BatchNorm(RefBatchNorm::new(3)),
            RefElement::Activation(RefActivation::Tanh),
            RefElement::Residual(RefResidual::new(vec![
                lin(3, 3),
                RefElement::BatchNorm(RefBatchNorm::new(3)),
            ])),
        ])),
        lin(3, 3),
    ]);
    for (k, (name, p)) in stack.parameters_mut().into_iter().enumerate() {
        let shift = if name == "1.0.weight" || name == "1.2.1.weight" {
            1.0
        } else {
            0.0
        };
        *p = d(&p.shape, 2 + k, 11).map(|v| v + shift);
    }
    let names: Vec<String> = stack.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, bnblocks::NAMES);
    let x = d(&[5, 4], 7, 13);
    let c = Array::new(vec![5], vec![0.0, 2.0, 1.0, 2.0, 0.0]);
    let losses: Vec<f64> = (0..2)
        .map(|_| stack.sgd_step(&x, &c, RefLoss::CrossEntropy, 0.1, RefMode::Train))
        .collect();
    assert_close(&losses, bnblocks::LOSSES, TOL, "losses");
    let want_after = [
        bnblocks::AFTER_0_WEIGHT,
        bnblocks::AFTER_0_BIAS,
        bnblocks::AFTER_1_0_WEIGHT,
        bnblocks::AFTER_1_0_BIAS,
        bnblocks::AFTER_1_0_RUNNING_MEAN,
        bnblocks::AFTER_1_0_RUNNING_VAR,
        bnblocks::AFTER_1_0_NUM_BATCHES_TRACKED,
        bnblocks::AFTER_1_2_0_WEIGHT,
        bnblocks::AFTER_1_2_0_BIAS,
        bnblocks::AFTER_1_2_1_WEIGHT,
        bnblocks::AFTER_1_2_1_BIAS,
        bnblocks::AFTER_1_2_1_RUNNING_MEAN,
        bnblocks::AFTER_1_2_1_RUNNING_VAR,
        bnblocks::AFTER_1_2_1_NUM_BATCHES_TRACKED,
        bnblocks::AFTER_2_WEIGHT,
        bnblocks::AFTER_2_BIAS,
    ];
    let state = stack.state_dict();
    assert_eq!(state.len(), want_after.len());
    for ((name, v), want) in state.iter().zip(want_after) {
        assert_close(&v.data, want, TOL, &format!("after two steps {name}"));
    }
    assert_close(
        &stack.forward(&x, RefMode::Eval).data,
        bnblocks::EVAL_OUT,
        TOL,
        "eval output",
    );
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// z = (d([2, 3, 4], 7, 11) * 4).requires_grad_()
// t = torch.tensor([[1, -100, 3], [0, 2, -100]])
// z2 = (d([3, 4], 5, 9) * 4).requires_grad_()
// t2 = torch.tensor([2, -100, 0])
// for name, inp, f in [("seq", z, lambda: F.cross_entropy(z.reshape(-1, 4), t.reshape(-1))),
//                      ("rows", z2, lambda: F.cross_entropy(z2, t2))]:
//     loss = f()
//     loss.backward()
//     show(f"{name}_value", [loss.item()]); show(f"{name}_grad", inp.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod ce {
    pub const SEQ_VALUE: &[f64] = &[2.474261450289891];
    pub const SEQ_GRAD: &[f64] = &[0.0013368247621872408, -0.20573044381059816, 0.005991232925651839, 0.19840238612275907, 0.0, 0.0, 0.0, 0.0, 0.00637695371966359, 0.2111757045463239, 0.02857952378746798, -0.24613218205345552, -0.20983003292069416, 0.005436413872283262, 0.18002930241516482, 0.024364316633246133, 0.00637695371966359, 0.2111757045463239, -0.22142047621253202, 0.003867817946544489, 0.0, 0.0, 0.0, 0.0];
    pub const ROWS_VALUE: &[f64] = &[2.076985856847868];
    pub const ROWS_GRAD: &[f64] = &[0.014319774009515205, 0.1744505603895575, -0.4763906839988934, 0.2876203495998207, 0.0, 0.0, 0.0, 0.0, -0.33373164105238906, 0.022501975451461712, 0.27413018004133016, 0.037099485559597044];
}
// With every target -100, PyTorch's mean is 0/0:
// `F.cross_entropy(z.reshape(-1, 4), torch.full([6], -100))` printed `nan`, and
// its backward a zero gradient. SPEC section 10 makes that loss 0 (no gradient).
#[test]
fn cross_entropy_per_position_ignoring_minus_100() {
    let z = d(&[2, 3, 4], 7, 11).map(|v| v * 4.0);
    let t = Array::new(vec![2, 3], vec![1.0, -100.0, 3.0, 0.0, 2.0, -100.0]);
    let z2 = d(&[3, 4], 5, 9).map(|v| v * 4.0);
    let t2 = Array::new(vec![3], vec![2.0, -100.0, 0.0]);
    let t2_column = t2.reshape(vec![3, 1]);
    let loss = RefLoss::CrossEntropy;
    let cases = [
        (&z, &t, ce::SEQ_VALUE, ce::SEQ_GRAD),
        (&z2, &t2, ce::ROWS_VALUE, ce::ROWS_GRAD),
        (&z2, &t2_column, ce::ROWS_VALUE, ce::ROWS_GRAD),
    ];
    for (out, target, value, grad) in cases {
        let what = format!("{:?}", target.shape);
        assert_close(
            &[loss.forward(out, target)],
            value,
            TOL,
            &format!("{what} value"),
        );
        assert_close(
            &loss.backward(out, target).data,
            grad,
            TOL,
            &format!("{what} grad"),
        );
    }
    let none = Array::new(vec![2, 3], vec![-100.0; 6]);
    assert_eq!(loss.forward(&z, &none), 0.0);
    assert_eq!(loss.backward(&z, &none), Array::zeros(vec![2, 3, 4]));
}

// ```python
// import math, torch
// import torch.nn as nn
// import torch.nn.functional as F
// def d(shape, a, m):
//     n = math.prod(shape)
//     return torch.tensor([((i * a) % m) / 8 - (m // 2) / 8 for i in range(n)], dtype=torch.float64).reshape(shape)
// def show(name, v):
//     v = v.detach().flatten().tolist() if torch.is_tensor(v) else v
//     print(name, "=", v)
// class Residual(nn.Sequential):
//     def forward(self, x): return x + super().forward(x)
// class Positional(nn.Module):
//     def __init__(self, T, D):
//         super().__init__(); self.weight = nn.Parameter(torch.empty(T, D)); nn.init.normal_(self.weight)
//     def forward(self, x): return x + self.weight[: x.shape[1]]
// class SelfAttention(nn.MultiheadAttention):
//     def __init__(self, d, heads, causal=False):
//         super().__init__(d, heads, batch_first=True); self.causal = causal
//     def forward(self, x):
//         m = nn.Transformer.generate_square_subsequent_mask(x.shape[1], dtype=x.dtype) if self.causal else None
//         return super().forward(x, x, x, attn_mask=m, need_weights=False)[0]
// class LSTM(nn.LSTM):
//     def __init__(self, i, h): super().__init__(i, h, batch_first=True)
//     def forward(self, x): return super().forward(x)[0]
// class GRU(nn.GRU):
//     def __init__(self, i, h): super().__init__(i, h, batch_first=True)
//     def forward(self, x): return super().forward(x)[0]
// model = nn.Sequential(
//     nn.Embedding(7, 6), Positional(5, 6),
//     Residual(nn.LayerNorm(6), SelfAttention(6, 2, causal=True)),
//     LSTM(6, 4), GRU(4, 4), nn.Linear(4, 7),
// ).double()
// with torch.no_grad():
//     for k, (_, p) in enumerate(model.named_parameters()):
//         p.copy_(d(list(p.shape), 2 + k, 23))
// show("names", [n for n, _ in model.named_parameters()])
// ids = torch.tensor([(i * 3) % 7 for i in range(8)]).reshape(2, 4)
// t = torch.tensor([[1, -100, 3, 0], [2, 6, -100, 5]])
// out = model(ids)
// loss = F.cross_entropy(out.reshape(-1, 7), t.reshape(-1))
// loss.backward()
// show("out", out); show("loss", [loss.item()])
// for n, p in model.named_parameters():
//     show(f"d{n.replace('.', '_')}", p.grad)
// ```
// It printed the values below.
#[rustfmt::skip]
mod stacked {
    pub const NAMES: &[&str] = &["0.weight", "1.weight", "2.0.weight", "2.0.bias", "2.1.in_proj_weight", "2.1.in_proj_bias", "2.1.out_proj.weight", "2.1.out_proj.bias", "3.weight_ih_l0", "3.weight_hh_l0", "3.bias_ih_l0", "3.bias_hh_l0", "4.weight_ih_l0", "4.weight_hh_l0", "4.bias_ih_l0", "4.bias_hh_l0", "5.weight", "5.bias"];
    pub const OUT: &[f64] = &[-1.3811100619435626, 1.1989331207765515, 1.3210600067994258, 1.0261031895195398, -1.3853859203487773, -1.3233465510237998, 1.2566966316963142, -1.2316773987447365, 1.489317255854258, 1.1289002736063996, 0.9748949282053941, -1.4339985665094366, -1.5187972822100069, 1.2021973723889878, -1.2028780820398695, 1.6062710419104667, 1.073050846630986, 1.007199970581322, -1.380634767631963, -1.693186761843823, 1.115962362106513, -1.3575648378429501, 1.2364181011381286, 1.3449194566889715, 1.0639023956700502, -1.6191407995712672, -1.2318530693878205, 1.362129869593258, -1.4081312369384191, 1.1411249475985004, 1.3609731970339853, 1.0352293815709048, -1.3178531004998624, -1.3184520345426292, 1.2308041499942903, -1.2238659779171406, 1.543407804272945, 1.11908409565189, 1.0113578778419758, -1.2903410680118503, -1.6902470158340488, 1.077026766356037, -1.3136870148333273, 1.258460359518724, 1.3182532389399717, 1.0154006132920232, -1.593556566202346, -1.2194784152376121, 1.3526689591144394, -1.4200357591091723, 1.0197488144920128, 1.533081522797416, 1.097866096398601, -1.7825683572118054, -0.9319957400832307, 1.5077888335179543];
    pub const LOSS: &[f64] = &[2.2850208317214826];
    pub const D0_WEIGHT: &[f64] = &[0.02353766808144128, -0.024029159843140302, -0.00274217527048215, -0.008815378574421672, -0.0144090499488476, 0.02266599036038965, 0.25998758478577066, -0.08434011416544934, -0.1315275486255741, 0.0383154318648389, -0.30295753237922474, 0.16489622297562, -0.0012191776993687783, 0.006839985929564205, -0.003218085961667991, 0.003802537641702787, -0.0056835321731991935, -0.0037341468561941046, -0.025191705706017427, 0.009577786562906084, 0.00437592517844537, 0.004346241192385409, 0.010354797991699643, -0.0036747314921671535, 0.001120362983065258, -0.0017572724724491742, -0.0009956105273788238, -0.0012224004521943289, -0.00024720682901181913, -0.0007980064180411687, -0.025110309042538734, 0.07098301620578204, -0.013500085056130632, -0.020115298458705504, -0.0006418859727331762, -0.006079519083259396, -0.0006999404838315499, -0.0026645368910134075, 0.007885788803802116, -0.0024000480075208118, 0.008134182360734704, -0.002161882742891797];
    pub const D1_WEIGHT: &[f64] = &[0.0001418492741638057, 0.048425366202966086, -0.017308474417442155, -0.026878237479305546, -0.015772231662619953, 0.0176106703841978, 0.23479587907975324, -0.07476232760254325, -0.12715162344712871, 0.042661673057224306, -0.2926027343875251, 0.16122149148345286, 0.00042042249923370813, -0.004421809363462582, 0.0068901782764232925, -0.0036224484597151404, 0.007886975531722885, -0.002959889160932966, -0.0029336679346300388, 0.005368476089239859, -0.002151871870838617, 0.001750098087881158, -0.004962236432160018, -0.004758345963261654, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    pub const D2_0_WEIGHT: &[f64] = &[-0.07505327899178309, -0.10753268996059945, -0.09989366079198328, -0.14957570765067119, 0.07923406863830856, 0.20056758221355542];
    pub const D2_0_BIAS: &[f64] = &[-0.07014032152005154, -0.09943567105187562, 0.13764857066334396, -0.0484879851262638, -0.11396133974407802, 0.10132056016398351];
    pub const D2_1_IN_PROJ_WEIGHT: &[f64] = &[0.0018709183771136878, 0.0020333268351934893, -0.0005087694345603591, -0.0006878256279107718, -0.002656428885625942, 0.0014187772551753548, -0.0013909762456726477, -0.002272102656516885, 0.0001874918124532686, 0.0013967577088608491, 0.00483162295453551, -0.003937193773597275, 0.00022925664548273866, -0.0019378886816137223, -0.0006263329758079232, 0.002464669068045517, 0.007821605648939998, -0.008104092297349501, 0.17135023978824138, 0.15947869402314868, -0.04258334297139732, -0.033520617739620576, -0.09424820694701633, 0.019804469569602308, -0.07632922192362343, -0.07104094553604397, 0.01896907222176929, 0.014931993354019882, 0.04198355375791853, -0.00882201732734193, 0.15738229818319913, 0.14647952123654848, -0.039111039724088095, -0.030789449696880473, -0.08656574551647349, 0.01819336488901451, -0.007547861433332874, -0.004524475782905433, 0.0009804245669234523, -0.0003666237269143528, -0.0021234804362173596, -0.0019295541121676814, -0.01256224958279606, -0.007973923970590702, 0.0024690934415430832, -0.0008259218407274724, -0.004238944645723462, 0.001940285087184494, 0.0003208773693428843, 0.0003862458236360933, -0.0004115355869343173, 0.00011117122411322484, 0.0004043983098957627, -0.002203926932925368, -0.09539925917618162, -0.06493614316915038, 0.0286725710377715, -0.008953591723057404, -0.04176168245253913, 0.08022780077766974, -0.02066336916900238, -0.014064640871553388, 0.006213132378934935, -0.0019402978223626818, -0.009035980068461801, 0.017377339012846365, 0.08740552280961005, 0.059494150883076406, -0.026274979914383, 0.008205118845315084, 0.038244757043777194, -0.07350548275147173, 0.0028180999079322334, 0.007698077579239648, -0.000898189714077767, -0.006016417430580301, -0.019809022241962747, 0.008937977683899935, 0.13730712403937628, 0.12607318520287564, -0.03187032179239884, -0.02566864634171749, -0.07285750293117808, 0.0329175705877057, -0.028571159018891762, -0.021544088320064672, -0.002664542918186595, 0.005352501837395393, 0.018479805860877226, -0.07471044232127702, 0.0021891436484804375, 0.010289016183013406, 0.0024146854028872767, -0.010709498338977703, -0.036597478164218454, 0.04193836087878589, 0.049598249667992464, 0.0704285257335247, -0.008303258411437567, -0.036710108376803934, -0.11970880135527565, 0.09180751911042072, 0.0566734017209838, 0.0766914180045236, -0.010758174863515189, -0.037152855706320154, -0.1204568337420158, 0.08694229388463404];
    pub const D2_1_IN_PROJ_BIAS: &[f64] = &[-0.001547749698786711, 0.0026483546709075113, 0.0041122381775719466, -0.0850703476312646, 0.03789519530510426, -0.07813742727068412, 1.2685165418080402e-17, -4.1253892663073444e-17, 2.6969529040576923e-17, -2.5255499084662566e-17, -1.3511423969901719e-17, 3.6754946578929115e-17, -0.011491787021815508, -0.06460460523712235, 0.008366341314296009, -0.018130889298728872, -0.0712437075140357, -0.07336376158765459];
    pub const D2_1_OUT_PROJ_WEIGHT: &[f64] = &[0.3065744676108471, 0.1523370777747869, 0.06875718704311903, -0.2307768142725667, 0.17747972390082237, -0.39720653317521537, -0.014677548644640714, -0.02818985796321745, -0.004546184287151009, 0.013416214036406384, -0.008384942819211663, 0.024806286785534523, -0.3541492590438955, -0.18319727784074752, -0.04440653192357854, 0.28121534586006647, -0.2406802229777715, 0.4858755390614898, 0.07777319382350559, 0.025301118639957067, 0.01332283961994015, -0.06079637888206917, 0.04939825939671217, -0.10294947292182245, -0.32882315947270313, -0.11725411888982479, -0.08374401809758734, 0.22345127602563003, -0.17885974810244673, 0.38448984175836187, 0.18700239431008114, 0.08199071148980355, 0.04900779783825207, -0.13044906308627385, 0.09808308107169834, -0.2251077000505161];
    pub const D2_1_OUT_PROJ_BIAS: &[f64] = &[0.13168456481415797, -0.01672466028982206, -0.1503361091251426, 0.026118608913056417, -0.12022951616727122, 0.07637429363971464];
    pub const D3_WEIGHT_IH_L0: &[f64] = &[-0.011032487731839354, -0.011520275296278344, -0.011869193694953999, 0.01732929118831281, 0.029500763892427548, 0.029199006841525446, -0.0010988590078149045, -0.0005183021948170567, 6.225461817271464e-05, -0.000314507967792152, -0.0010448360443675547, -0.00046427927399681157, 0.02459979597256032, 0.013725857446649468, 0.002847783659660405, -0.025841437144927513, 0.0147764348510768, 0.01426163615679952, 0.0038272318950495193, 0.001782684364897374, -0.00026186303355996523, 0.0014443662633830132, 0.003730490495416446, 0.0015760064762871428, -0.03183862022437789, -0.025084155051309478, -0.0166207615288378, 0.04183495281736316, 0.02285633441868687, 0.020679527499163883, -3.79020609299052e-10, -2.1576233748018828e-10, -3.0689873781455823e-10, 4.472750392472527e-10, 5.050429157802868e-10, 6.682450669745355e-10, 4.326188601406835e-07, 2.4635909089058455e-07, 3.488264246120828e-07, -5.101798385808738e-07, -5.728268879624478e-07, -7.576999886616644e-07, 8.480678742380799e-05, 5.4598359420175095e-05, 6.328200873066488e-05, -0.0003073998579315487, -0.00019511026132337548, -0.0001793851881727666, 0.00020335098259754246, 9.591491352757278e-05, -1.1521155542396947e-05, 5.820588275973788e-05, 0.0001933547688112764, 8.591740193897203e-05, 3.9886666987893726e-05, 1.8809206095944153e-05, -2.268314205897709e-06, 1.1482089701893013e-05, 3.7943200069646836e-05, 1.6844992401207293e-05, 0.47828896201609244, 0.26838488429137225, 0.39105805528875676, -0.5354641764219242, -0.6346905490781544, -0.8454273662692151, -0.016033095655358546, -0.0075623791895406845, 0.0009083374974067283, -0.004588886284675151, -0.015244865370758205, -0.00677414890494022, -0.020953867423707247, -0.019433122120555466, -0.01387529671155783, -0.013538129354792957, -0.0059863176311976095, -0.019254480692353856, -0.0018798201509338532, -0.0008868946942201361, 0.00010602660419306505, -0.0005344027898846418, -0.0017864396987586162, -0.0007946537721630933, 0.0005741485278423896, -0.0008928443000724724, -0.00269587655398118, 0.0014393445440798337, -0.004707614793809075, -0.00920344014786429, 0.0036954245242195585, 0.0017427904557341216, -0.00020984395829280243, 0.0010614259472202037, 0.003514729307164661, 0.0015609151460739424];
    pub const D3_WEIGHT_HH_L0: &[f64] = &[-0.0001350855384178158, -2.171651083695125e-09, 0.00040177668047383837, -2.653657801692828e-07, -2.082648468364307e-15, 7.313867681155157e-20, 3.2052614796082356e-16, -3.023871788799353e-18, -1.0427001812259633e-06, 3.744297458672199e-11, -2.0751206153829062e-07, -1.2939104599440815e-09, 4.409920193569862e-11, -1.1879003174568304e-15, -4.440943660013913e-10, 8.643175760812737e-14, 0.00020188432582387238, -8.825812670032917e-08, 0.00020996189164815173, -2.8815556956283625e-06, -6.560577571701155e-11, 2.280380529387885e-15, 1.0096870642051475e-11, -9.635289986565621e-14, 7.446239279053659e-08, -2.614712102591113e-12, -1.1804015103272753e-08, 1.0812668788979535e-10, 1.0360255474382793e-05, 8.360866765969196e-08, 8.469387498718683e-08, 3.7755708846504397e-06, -1.6216078363202956e-20, 5.694780877479464e-25, 2.4956018885335134e-21, -2.3544678329418957e-23, -1.5351667417837782e-11, 5.380347186399982e-16, 3.222859174716126e-12, -2.248576546145571e-14, 0.08570388639906117, -7.443821289541524e-07, -0.01252821657974396, 0.00022171465717345815, 5.7022005273495975e-11, -2.0025469621909976e-15, -8.778234802522498e-12, 8.277506158278608e-14, 0.000669851789158868, -1.8726910321469486e-07, -0.0007694393906289754, 1.262360136121147e-06, -1.075495361494481e-09, 3.865619844424194e-14, 2.986884702585039e-10, -1.5248251592733578e-12, -0.00015142972620870603, 3.0014770520450483e-09, -0.0010836351601246172, 3.8606069849143056e-07, -8.832528243377922e-11, 6.310450216473257e-14, 3.1172252401470257e-12, 2.58139277444804e-12];
    pub const D3_BIAS_IH_L0: &[f64] = &[0.0004833680592011483, 0.00018969848067093152, -0.003602528021653586, -0.0006675323369027339, 0.0029159843333206774, 8.869075758814238e-11, -1.0089649647165917e-07, -1.926541967465329e-05, -3.5105014647957696e-05, -6.887008162224458e-06, -0.11328992470012755, 0.002767829070706539, -0.0009011093761414945, 0.00032444708254459904, -0.00031598808369487927, -0.0006380226533048554];
    pub const D3_BIAS_HH_L0: &[f64] = &[0.00048336805920114797, 0.00018969848067093152, -0.003602528021653586, -0.0006675323369027339, 0.002915984333320678, 8.86907575881424e-11, -1.0089649647165916e-07, -1.9265419674653295e-05, -3.5105014647957696e-05, -6.887008162224458e-06, -0.11328992470012755, 0.0027678290707065394, -0.0009011093761414948, 0.000324447082544599, -0.00031598808369487927, -0.0006380226533048554];
    pub const D4_WEIGHT_IH_L0: &[f64] = &[-0.0007577299817860988, -2.9279677328258363e-05, -0.0004994773261685164, -0.0013122520488625638, 9.459122253837423e-05, 3.3292730806413626e-06, -0.0019832983407246704, 0.0001472711152414639, 0.0002497324641330922, -2.556849831238249e-07, -0.000981238893404129, -9.863673805957265e-06, 0.002316094837762582, -1.89686362721748e-06, -0.007355134663391248, -8.15433299864589e-05, 0.004007894061175121, 0.00011396852224472952, 0.0020312369648801502, 0.0051154515864301675, 0.00960874164110206, 0.00014355922807084498, -0.01666045020939276, 0.006440310261536487, 0.009444768906407986, -1.2020048815242549e-05, -0.010225479090717228, -0.0005240739472835053, -0.028275157174437546, 4.302690399941225e-06, 0.05344662713360793, 0.00018896185499709653, -0.007764724209058695, -0.00021469224838333766, -0.00208897322876882, -0.009633481648722087, 0.0040558858253482806, 4.840577124912198e-05, -0.034149022533623626, 0.00214866947256252, -0.007324610946450549, 5.8991548067064974e-06, 0.013437591336949106, 0.00024570035447386113, -0.014341032136011846, 1.1085758124372993e-05, 0.04480803605022747, 0.00047158183750312945];
    pub const D4_WEIGHT_HH_L0: &[f64] = &[1.8615596908375054e-05, 7.65316238646279e-05, 0.00010135072941649291, 2.269692763633898e-05, 0.0001231219608283853, -0.00031576333781376887, 0.001462593303531877, -0.00042898594789170816, -0.0002072874056143624, 0.0010063238520067993, -0.002812533951731958, 0.00041880012324180173, -0.0010605072477334935, 0.0008395510154561002, -0.011482672306664592, 0.00034219010817487826, -0.00017963731769565384, -0.0008528633362678206, -0.0005949149789616988, -0.0004492718574608203, -0.003525755573509274, -0.0037321589145262886, -0.028285393963809583, -0.0007725519608233381, -0.0012488498873030839, 0.0018253826415463295, -0.013028084106506787, 0.0019421670728465225, 0.004225594410000605, 0.004811921479096796, 0.03704992348260756, -0.001944127787288973, 2.4636268111394427e-05, 0.00013297614207629876, 0.00010911934578045843, 4.551172293073735e-05, -0.0005706946472195436, -0.006021523544104297, 0.0010782361151831597, -0.005604718493250027, 0.0005090889738699056, -0.0037843083102692167, 0.007824701290033997, -0.0015807791319814347, 0.0005856074043427239, -0.0004780897678013019, 0.006349055369070692, -0.00019460139422954867];
    pub const D4_BIAS_IH_L0: &[f64] = &[0.0009959896389196208, 0.0021073427871295793, -0.0042877341663829956, -0.01643337814714122, -0.006520638030154392, -0.03996680531029298, -0.02250016710024966, 0.04714827920926472, 0.01080911854658528, 0.0059429231033801795, 0.04200128401689933, 0.11620614539961097];
    pub const D4_BIAS_HH_L0: &[f64] = &[0.0009959896389196208, 0.0021073427871295784, -0.004287734166382996, -0.01643337814714122, -0.006520638030154392, -0.03996680531029298, -0.02250016710024966, 0.04714827920926472, 0.0008325278891097573, 0.004019550135629608, 0.012701299283636447, 0.009680900270456944];
    pub const D5_WEIGHT: &[f64] = &[-0.017793312173608442, 0.021307569088232125, -0.12498747675428015, 0.03687707655911837, 0.009327303740909527, 0.011932909194519628, 0.0780569084976784, 3.0147334315744692e-05, 0.01191444905352054, 0.0038464376386657673, 0.08015451432370935, -0.017301857389807537, 0.00022373044483059564, -0.04440389751856713, 0.017587462657658075, -0.0379488332544545, 0.0013955417661342486, -0.0010924647299559369, 0.012600032789809576, -0.0014625745484760423, -0.014952460820748954, 0.052693244931012295, -0.12754374999845033, 0.07156338253164829, 0.009884747988962482, -0.04428379860390673, 0.06413230848387505, -0.05175734123234432];
    pub const D5_BIAS: &[f64] = &[-0.14842466708068697, 0.09021130984845621, 0.08576657673134064, 0.02789775889839105, 0.016271875191886914, -0.14860925563150204, 0.07688640204211415];
}
#[test]
fn a_sequence_model_with_ignored_positions_like_pytorch() {
    let mut stack = RefStack::new(vec![
        RefElement::Embedding(RefEmbedding::new(Array::zeros(vec![7, 6]))),
        RefElement::Positional(RefPositional::new(Array::zeros(vec![5, 6]))),
        RefElement::Residual(RefResidual::new(vec![
            RefElement::LayerNorm(RefLayerNorm::new(6)),
            RefElement::Attention(RefAttention::new(
                Array::zeros(vec![18, 6]),
                Array::zeros(vec![18]),
                Array::zeros(vec![6, 6]),
                Array::zeros(vec![6]),
                2,
                true,
            )),
        ])),
        RefElement::Lstm(RefLstm::new(
            Array::zeros(vec![16, 6]),
            Array::zeros(vec![16, 4]),
            Array::zeros(vec![16]),
            Array::zeros(vec![16]),
        )),
        RefElement::Gru(RefGru::new(
            Array::zeros(vec![12, 4]),
            Array::zeros(vec![12, 4]),
            Array::zeros(vec![12]),
            Array::zeros(vec![12]),
        )),
        lin(7, 4),
    ]);
    for (k, (_, p)) in stack.parameters_mut().into_iter().enumerate() {
        *p = d(&p.shape, 2 + k, 23);
    }
    let names: Vec<String> = stack.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, stacked::NAMES);
    let x = ids(2, 4, 3, 7);
    let t = Array::new(
        vec![2, 4],
        vec![1.0, -100.0, 3.0, 0.0, 2.0, 6.0, -100.0, 5.0],
    );
    let out = stack.forward(&x, RefMode::Train);
    assert_eq!(out.shape, [2, 4, 7]);
    assert_close(&out.data, stacked::OUT, TOL, "out");
    let loss = RefLoss::CrossEntropy.forward(&out, &t);
    assert_close(&[loss], stacked::LOSS, TOL, "loss");
    let grads = stack.gradients(&x, &t, RefLoss::CrossEntropy, RefMode::Train);
    let want = [
        stacked::D0_WEIGHT,
        stacked::D1_WEIGHT,
        stacked::D2_0_WEIGHT,
        stacked::D2_0_BIAS,
        stacked::D2_1_IN_PROJ_WEIGHT,
        stacked::D2_1_IN_PROJ_BIAS,
        stacked::D2_1_OUT_PROJ_WEIGHT,
        stacked::D2_1_OUT_PROJ_BIAS,
        stacked::D3_WEIGHT_IH_L0,
        stacked::D3_WEIGHT_HH_L0,
        stacked::D3_BIAS_IH_L0,
        stacked::D3_BIAS_HH_L0,
        stacked::D4_WEIGHT_IH_L0,
        stacked::D4_WEIGHT_HH_L0,
        stacked::D4_BIAS_IH_L0,
        stacked::D4_BIAS_HH_L0,
        stacked::D5_WEIGHT,
        stacked::D5_BIAS,
    ];
    assert_eq!(grads.len(), want.len());
    for ((name, g), want) in grads.iter().zip(want) {
        assert_close(&g.data, want, TOL, &format!("d{name}"));
    }
}

// Values from `crates/synapse-train/tests/data/gpt2/elements.json` (keys
// `gelu_tanh`, `gelu_none`, `layernorm_eps_1e-05`, `layernorm_eps_0.001`),
// written by that folder's `make.py` (`elements()`), in short:
// ```python
// import torch
// dt = torch.float64
// gx = torch.tensor([-10.0, -5.0, -3.0, -2.0, -1.5, -1.0, -0.5, -0.1, -1e-3, 0.0, 1e-3, 0.1,
//                    0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0], dtype=dt)
// for approx in ("tanh", "none"):
//     xi = gx.clone().requires_grad_(True)
//     y = torch.nn.GELU(approximate=approx)(xi)
//     y.sum().backward()          # output, input_grad = xi.grad
// g = torch.Generator().manual_seed(7)
// x = torch.randn(2, 3, 4, generator=g, dtype=dt)
// x = x * torch.tensor([1.0, 0.01, 0.001], dtype=dt).view(1, 3, 1)
// up = torch.randn(2, 3, 4, generator=g, dtype=dt)
// for eps in (1e-5, 1e-3):
//     m = torch.nn.LayerNorm(4, eps=eps, dtype=dt)
//     with torch.no_grad():
//         m.weight.copy_(torch.tensor([0.5, -1.0, 1.5, 2.0], dtype=dt))
//         m.bias.copy_(torch.tensor([0.1, -0.2, 0.3, 0.0], dtype=dt))
//     xi = x.clone().requires_grad_(True)
//     y = m(xi)
//     (y * up).sum().backward()   # output, input_grad, weight_grad, bias_grad
// ```
#[rustfmt::skip]
mod gpt2_elements {
    pub const GELU_X: &[f64] = &[-10.0, -5.0, -3.0, -2.0, -1.5, -1.0, -0.5, -0.1, -0.001, 0.0, 0.001, 0.1, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0];
    pub const GELU_TANH_Y: &[f64] = &[-0.0, -2.2917961972623857e-07, -0.0036373920817729943, -0.04540230591222494, -0.10042842301976707, -0.1588080093917233, -0.15428599017485606, -0.04601724895456484, -0.000499601057786418, 0.0, 0.000500398942213582, 0.053982751045435165, 0.34571400982514394, 0.8411919906082768, 1.3995715769802328, 1.954597694087775, 2.996362607918227, 4.999999770820381, 10.0];
    pub const GELU_TANH_DX: &[f64] = &[0.0, -1.5463619879596227e-06, -0.011584166630969648, -0.0860992566236183, -0.12771079315143308, -0.08296408384578258, 0.13263009646535764, 0.4204782107282433, 0.499202115706475, 0.5, 0.500797884293525, 0.5795217892717567, 0.8673699035346424, 1.0829640838457826, 1.127710793151433, 1.0860992566236183, 1.0115841666309695, 1.000001546361988, 1.0];
    pub const GELU_NONE_Y: &[f64] = &[-0.0, -1.4332578593401202e-06, -0.00404969409489031, -0.04550026389635842, -0.10021080190328704, -0.15865525393145702, -0.15426876936299344, -0.0460172162722971, -0.000499601057786089, 0.0, 0.000500398942213911, 0.053982783727702904, 0.34573123063700656, 0.841344746068543, 1.399789198096713, 1.9544997361036416, 2.99595030590511, 4.999998566742141, 10.0];
    pub const GELU_NONE_DX: &[f64] = &[-7.694598626706419e-22, -7.1469460018034646e-06, -0.01194564720418392, -0.08523180107819692, -0.1274691922299796, -0.08331547058768635, 0.13250487534383712, 0.4204769079752698, 0.4992021157051586, 0.5, 0.5007978842948414, 0.5795230920247302, 0.8674951246561629, 1.0833154705876864, 1.1274691922299795, 1.085231801078197, 1.011945647204184, 1.000007146946002, 1.0];
    pub const LN_X: &[f64] = &[0.06626753966449943, 0.04699155524392409, 1.8365386300294015, 1.367690398536778, 0.011213586638784167, 0.01859747196003376, 0.006012290027805237, 0.007378295754101418, -0.001313149657829289, -0.0003280001761367003, -0.0013521685881505833, 0.0017951074839458658, 0.20119992138810813, 2.333376707301315, -0.10278224015366183, -0.2497246860750079, -0.016677291342328766, -0.01587032296930836, 0.0203026332869622, 0.006596523264462501, 0.0005090420296776137, 0.0009426794393552232, -0.001226167282392128, 0.0003508062731534086];
    pub const LN_UP: &[f64] = &[-0.9616368217950791, 0.8077357110050535, 0.9260650322729287, -0.8171477122306512, 0.17652260805265782, 0.528966314057375, -0.7050516511204795, 0.8267190175662144, -0.3225976433994464, 0.2546306881185898, -0.25429147515013184, 1.0885145540738355, -0.5353489725617118, -0.8100385030760908, -0.8180754920535276, -0.05970588749567211, 1.380471285391596, 1.1961309178087804, 0.7343127212250506, -0.20718236993031286, 1.096496342929667, -0.3373714686427381, 0.41816242131728704, 1.200821341924654];
    pub const LN_W: &[f64] = &[0.5, -1.0, 1.5, 2.0];
    pub const LN_B: &[f64] = &[0.1, -0.2, 0.3, 0.0];
    pub const LN_EPS_1E5_Y: &[f64] = &[-0.3827591603451723, 0.7899072691527487, 2.2114770284131504, 1.3622151418019863, 0.1354814861104207, -1.5391465737099816, -0.9335409521020002, -1.1754978223923116, -0.048603056559955476, -0.19165866297526765, -0.16297082095237528, 1.228389328225787, -0.06475204751940372, -1.9109410571244108, -0.6306122636546697, -1.5220575726316472, -0.3785030462757377, 0.7064155455554721, 2.342014908114887, 1.0041567320607128, 0.15585552015183918, -0.44444657119036585, -0.32914951187898234, 0.1265507928505546];
    pub const LN_EPS_1E5_DX: &[f64] = &[0.46342580053808236, 0.06461193983359137, 1.4684423405247495, -1.9964800808964231, 10.947263409180707, -51.27102851194051, -216.69741005216065, 257.02117515492046, -115.64482872966396, -174.87830835711983, -178.93148773312683, 469.4546248199107, 0.11962058654602309, 0.015342121678130094, -0.6366357712505741, 0.5016730630264212, 66.156817102207, -53.46336350050959, 29.620042941374184, -42.313496543071615, -132.01655390237832, -196.89654741197444, -106.51144886812679, 435.4245501824796];
    pub const LN_EPS_1E5_DW: &[f64] = &[0.01465352510119882, -2.645933075099742, 3.170195720149651, -0.3565103050849972];
    pub const LN_EPS_1E5_DB: &[f64] = &[0.8339067986176834, 1.6400536592709698, 0.30112155649112743, 2.0320189439080676];
    pub const LN_EPS_1E3_Y: &[f64] = &[-0.38237706398845317, 0.789123772966446, 2.2099641241153076, 1.361136969732961, 0.10645618166251657, -0.4436699952674489, 0.07554591568854319, -0.21389260476968805, 0.08398667858765946, -0.1991011456030731, 0.25011071284758923, 0.13237004397976365, -0.06467741222377413, -1.910165973636673, -0.6301906815107137, -1.5213680563639649, -0.11636449752748762, 0.20985349119846813, 1.2233369212101475, 0.45404907756002383, 0.10576845620084253, -0.22524512054537427, 0.2350248392067679, 0.013069481830190835];
    pub const LN_EPS_1E3_DX: &[f64] = &[0.4621314812667693, 0.06360984628361965, 1.4685042646140603, -1.9942455921644489, 1.5608504385143718, -17.46463283180596, -34.434187974952195, 50.337970368243795, -15.953841073349222, -18.942724841304944, -22.90797901217858, 57.80454492683275, 0.11940035400667998, 0.016197342687277738, -0.6366599989750534, 0.5010623022810959, 20.66044451969149, -32.93897726499808, 26.556621755211143, -14.278089009904564, -13.605488155822652, -20.272117467902174, -11.106813095985153, 44.984418719709986];
    pub const LN_EPS_1E3_DW: &[f64] = &[0.5319541340965216, -2.554341951984789, 2.2343354716978467, -0.5662672733827755];
    pub const LN_EPS_1E3_DB: &[f64] = &[0.8339067986176834, 1.6400536592709698, 0.30112155649112743, 2.0320189439080676];
}

// kinds: gelu
#[test]
fn gelu_tanh_and_exact_match_pytorch_at_gpt2_element_values() {
    let x = Array::new(
        vec![gpt2_elements::GELU_X.len()],
        gpt2_elements::GELU_X.to_vec(),
    );
    let ones = x.map(|_| 1.0);
    for (a, want_y, want_dx) in [
        (
            RefActivation::GeluTanh,
            gpt2_elements::GELU_TANH_Y,
            gpt2_elements::GELU_TANH_DX,
        ),
        (
            RefActivation::Gelu,
            gpt2_elements::GELU_NONE_Y,
            gpt2_elements::GELU_NONE_DX,
        ),
    ] {
        let y = a.forward(&x);
        let dx = a.backward(&x, &y, &ones);
        assert_close(&y.data, want_y, TOL, &format!("{a:?} y"));
        assert_close(&dx.data, want_dx, TOL, &format!("{a:?} dx"));
    }
}

// kinds: layernorm
#[test]
fn layernorm_with_eps_1e5_and_1e3_matches_pytorch_on_small_variance_rows() {
    let x = Array::new(vec![2, 3, 4], gpt2_elements::LN_X.to_vec());
    let up = Array::new(vec![2, 3, 4], gpt2_elements::LN_UP.to_vec());
    for (eps, want) in [
        (
            1e-5,
            [
                gpt2_elements::LN_EPS_1E5_Y,
                gpt2_elements::LN_EPS_1E5_DX,
                gpt2_elements::LN_EPS_1E5_DW,
                gpt2_elements::LN_EPS_1E5_DB,
            ],
        ),
        (
            1e-3,
            [
                gpt2_elements::LN_EPS_1E3_Y,
                gpt2_elements::LN_EPS_1E3_DX,
                gpt2_elements::LN_EPS_1E3_DW,
                gpt2_elements::LN_EPS_1E3_DB,
            ],
        ),
    ] {
        let mut ln = RefLayerNorm::new(4);
        ln.eps = eps;
        ln.weight = Array::new(vec![4], gpt2_elements::LN_W.to_vec());
        ln.bias = Array::new(vec![4], gpt2_elements::LN_B.to_vec());
        let y = ln.forward(&x);
        let (dx, g) = ln.backward(&x, &up);
        // The rows scaled by 0.001 divide by sqrt(var + eps) ~ 1e-3: their
        // input gradients are ~1e2, so the tolerance is relative there.
        assert_close(&y.data, want[0], TOL, &format!("eps {eps} y"));
        assert_close(&dx.data, want[1], 1e-10, &format!("eps {eps} dx"));
        assert_close(&g[0].data, want[2], TOL, &format!("eps {eps} dweight"));
        assert_close(&g[1].data, want[3], TOL, &format!("eps {eps} dbias"));
    }
}
