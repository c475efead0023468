//! Extending the article: XOR needs a hidden layer.
//!
//! Expected result: the article's single neuron `linear(3,1,bias=false), sigmoid`
//! cannot learn `x1 XOR x2` (its outputs stay near 0.5), while the same code
//! with `linear(3,4), sigmoid, linear(4,1), sigmoid` gets every row right.

use anyhow::Result;
use synapse::prelude::*;

fn main() -> Result<()> {
    synapse::train::runtime::configure();
    let dev = Device::Cpu;
    // Third input is always 1, as in the article; the answer is x1 XOR x2.
    let x = Tensor::new(
        &[[0f64, 0., 1.], [0., 1., 1.], [1., 0., 1.], [1., 1., 1.]],
        &dev,
    )?;
    let y = Tensor::new(&[[0f64], [1.], [1.], [0.]], &dev)?;

    for text in [
        "linear(3,1,bias=false), sigmoid",
        "linear(3,4), sigmoid, linear(4,1), sigmoid",
    ] {
        let spec: ArchSpec = text.parse()?;
        let net = Sequential::init(&spec, Init::NumpyUniform, 1, DType::F64, &dev)?;
        let mut sgd = Sgd::new(
            net.parameters(),
            SgdConfig {
                lr: 1.0,
                ..Default::default()
            },
        )?;
        let mut dropout = Mt19937::new(1);
        for _ in 0..20_000 {
            let loss = Loss::Sse.forward(&net.forward(&x, Mode::Train(&mut dropout))?, &y)?;
            sgd.step(&loss.backward()?)?;
        }
        let out = net
            .forward(&x, Mode::Eval)?
            .flatten_all()?
            .to_vec1::<f64>()?;
        let right = out
            .iter()
            .zip([0.0, 1.0, 1.0, 0.0])
            .filter(|(o, t)| (*o - t).abs() < 0.5)
            .count();
        println!("{text}");
        println!("  outputs for 001, 011, 101, 111: {out:.4?}  ({right}/4 right)");
    }
    Ok(())
}
