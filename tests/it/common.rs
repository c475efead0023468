//! Helpers shared by the integration tests: the reference network built from a
//! `Sequential`, and the comparison of their weights.

#![allow(dead_code)]

use anyhow::Result;
use synapse::nn::{Activation, ElementSpec, LinearSpec, Sequential};
use synapse::reference::{Matrix, RefActivation, RefLayer, RefNetwork};

/// Relative tolerance between autodiff and the reference, in f64.
pub const TOL: f64 = 1e-10;

/// The reference network with the same weights as `net`.
pub fn to_reference(net: &Sequential) -> Result<RefNetwork> {
    let mut layers = Vec::new();
    let params = net.parameters();
    for (i, e) in net.spec().elements().iter().enumerate() {
        layers.push(match *e {
            ElementSpec::Linear(LinearSpec {
                input,
                output,
                bias,
                tied: None,
            }) => {
                let get = |name: String| -> Result<Vec<f64>> {
                    let (_, v) = params
                        .iter()
                        .find(|(n, _)| *n == name)
                        .expect("named parameter");
                    Ok(v.flatten_all()?.to_vec1::<f64>()?)
                };
                RefLayer::Dense {
                    w: Matrix::new(output, input, get(format!("{i}.weight"))?),
                    b: if bias {
                        Some(get(format!("{i}.bias"))?)
                    } else {
                        None
                    },
                }
            }
            ElementSpec::Activation(a) => RefLayer::Activation(match a {
                Activation::Sigmoid => RefActivation::Sigmoid,
                Activation::Tanh => RefActivation::Tanh,
                Activation::Relu => RefActivation::Relu,
                Activation::Identity => RefActivation::Identity,
                other => anyhow::bail!("the reference has no {other}"),
            }),
            ref other => anyhow::bail!("the reference has no {other}"),
        });
    }
    Ok(RefNetwork { layers })
}

pub fn assert_agree(net: &Sequential, reference: &RefNetwork, context: &str) -> Result<()> {
    let (params, expected_all) = (net.parameters(), reference.parameters());
    assert_eq!(
        params.len(),
        expected_all.len(),
        "{context}: parameter count"
    );
    for ((name, var), expected) in params.iter().zip(expected_all) {
        let got = var.flatten_all()?.to_vec1::<f64>()?;
        assert_eq!(got.len(), expected.len(), "{context}, {name}: sizes");
        let scale = expected
            .iter()
            .fold(f64::MIN_POSITIVE, |m, v| m.max(v.abs()));
        for (g, e) in got.iter().zip(&expected) {
            assert!(
                (g - e).abs() <= TOL * scale,
                "{context}, {name}: {got:?} vs {expected:?}"
            );
        }
    }
    Ok(())
}
