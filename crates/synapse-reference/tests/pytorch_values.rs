//! Forward values and gradients of every element against PyTorch (torch
//! 2.15, float64, CPU) on small fixed inputs. Each test has above it the Python
//! script that produced its numbers (printed with `repr`, full precision) and
//! the numbers it printed. Inputs are dyadic rationals, exact in both languages:
//! `d(shape, a, m)[i] = ((i * a) % m) / 8 - (m // 2) / 8`, row-major; each
//! upstream gradient `r` is such an array too (`L = sum(y * r)`, so `dL/dy = r`).

mod common;

use common::{assert_close, dyadic as d};
use synapse_reference::{
    Array, RefActivation, RefAvgPool2d, RefBatchNorm, RefConv2d, RefDropout, RefElement,
    RefLayerNorm, RefLoss, RefMaxPool2d, RefMode, RefStack,
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

#[test]
fn a_cnn_stack_trains_like_nn_sequential() {
    use synapse_reference::{RefDense, RefReshape};
    let lin = |o: usize, i: usize| {
        RefElement::Dense(RefDense::new(
            Array::zeros(vec![o, i]),
            Some(Array::zeros(vec![o])),
        ))
    };
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
