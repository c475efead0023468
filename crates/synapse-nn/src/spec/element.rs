//! One element of a spec: its grammar, canonical form, parameters and buffers.
//!
//! ```text
//! linear(IN,OUT[,bias=false])      conv2d(IN,OUT,K[,stride=S][,padding=P][,bias=false])
//! sigmoid tanh relu identity       maxpool2d(K[,stride=S])   avgpool2d(K[,stride=S])
//! softmax leaky_relu[(SLOPE)]      batchnorm(N[,eps=E][,momentum=M])   batchnorm2d(C[,...])
//! dropout(P)  flatten              layernorm(N[,eps=E])      reshape(D1,...,Dk)
//! ```
//! The canonical form (`Display`) leaves out options at their default.

use std::fmt;

use crate::{Activation, Error, Result, DEFAULT_LEAKY_SLOPE};

/// The `eps` of the norm layers when not written (PyTorch's).
pub const DEFAULT_NORM_EPS: f64 = 1e-5;
/// The `momentum` of the batchnorms when not written (PyTorch's).
pub const DEFAULT_BN_MOMENTUM: f64 = 0.1;

/// One element of a stack, as written in a spec.
#[derive(Debug, Clone, PartialEq)]
pub enum ElementSpec {
    /// A dense layer `linear(input, output[, bias=false])`.
    Linear {
        /// Inputs.
        input: usize,
        /// Outputs.
        output: usize,
        /// Whether the layer has a bias.
        bias: bool,
    },
    /// An activation.
    Activation(Activation),
    /// `dropout(P)`: zeroes each value with probability P in training.
    Dropout(f64),
    /// `batchnorm(N)` on `[batch, N]` (`nn.BatchNorm1d`).
    BatchNorm {
        /// Features N.
        features: usize,
        /// Added to the variance.
        eps: f64,
        /// Weight of the new batch in the running statistics.
        momentum: f64,
    },
    /// `batchnorm2d(C)` on `[batch, C, H, W]` (`nn.BatchNorm2d`).
    BatchNorm2d {
        /// Channels C.
        channels: usize,
        /// Added to the variance.
        eps: f64,
        /// Weight of the new batch in the running statistics.
        momentum: f64,
    },
    /// `layernorm(N)` over the last dimension (`nn.LayerNorm(N)`).
    LayerNorm {
        /// Size N of the last dimension.
        features: usize,
        /// Added to the variance.
        eps: f64,
    },
    /// `reshape(D1,...,Dk)`: `[batch, D1*...*Dk]` to `[batch, D1, ..., Dk]`.
    Reshape(Vec<usize>),
    /// `flatten`: `[batch, ...]` to `[batch, product]`.
    Flatten,
    /// `conv2d(IN,OUT,K[,stride=S][,padding=P][,bias=false])`.
    Conv2d {
        /// Input channels.
        input: usize,
        /// Output channels.
        output: usize,
        /// Kernel size K (square).
        kernel: usize,
        /// Step between windows.
        stride: usize,
        /// Zeros added on each side.
        padding: usize,
        /// Whether the layer has a bias.
        bias: bool,
    },
    /// `maxpool2d(K[,stride=S])`, no padding.
    MaxPool2d {
        /// Window size K.
        kernel: usize,
        /// Step between windows (K by default).
        stride: usize,
    },
    /// `avgpool2d(K[,stride=S])`, no padding.
    AvgPool2d {
        /// Window size K.
        kernel: usize,
        /// Step between windows (K by default).
        stride: usize,
    },
}

/// The kinds of elements, one per spec name. [`ElementKind::ALL`] lists them
/// all; tests walk it to cover every kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementKind {
    /// `linear`
    Linear,
    /// `sigmoid`
    Sigmoid,
    /// `tanh`
    Tanh,
    /// `relu`
    Relu,
    /// `leaky_relu`
    LeakyRelu,
    /// `softmax`
    Softmax,
    /// `identity`
    Identity,
    /// `dropout`
    Dropout,
    /// `batchnorm`
    BatchNorm,
    /// `batchnorm2d`
    BatchNorm2d,
    /// `layernorm`
    LayerNorm,
    /// `reshape`
    Reshape,
    /// `flatten`
    Flatten,
    /// `conv2d`
    Conv2d,
    /// `maxpool2d`
    MaxPool2d,
    /// `avgpool2d`
    AvgPool2d,
}

impl ElementKind {
    /// Every kind, in the order of SPEC section 1.
    pub const ALL: [ElementKind; 16] = [
        ElementKind::Linear,
        ElementKind::Sigmoid,
        ElementKind::Tanh,
        ElementKind::Relu,
        ElementKind::LeakyRelu,
        ElementKind::Softmax,
        ElementKind::Identity,
        ElementKind::Dropout,
        ElementKind::BatchNorm,
        ElementKind::BatchNorm2d,
        ElementKind::LayerNorm,
        ElementKind::Reshape,
        ElementKind::Flatten,
        ElementKind::Conv2d,
        ElementKind::MaxPool2d,
        ElementKind::AvgPool2d,
    ];

    /// The name in a spec.
    pub fn name(self) -> &'static str {
        match self {
            ElementKind::Linear => "linear",
            ElementKind::Sigmoid => "sigmoid",
            ElementKind::Tanh => "tanh",
            ElementKind::Relu => "relu",
            ElementKind::LeakyRelu => "leaky_relu",
            ElementKind::Softmax => "softmax",
            ElementKind::Identity => "identity",
            ElementKind::Dropout => "dropout",
            ElementKind::BatchNorm => "batchnorm",
            ElementKind::BatchNorm2d => "batchnorm2d",
            ElementKind::LayerNorm => "layernorm",
            ElementKind::Reshape => "reshape",
            ElementKind::Flatten => "flatten",
            ElementKind::Conv2d => "conv2d",
            ElementKind::MaxPool2d => "maxpool2d",
            ElementKind::AvgPool2d => "avgpool2d",
        }
    }
}

impl ElementSpec {
    /// The element's kind.
    pub fn kind(&self) -> ElementKind {
        match self {
            ElementSpec::Linear { .. } => ElementKind::Linear,
            ElementSpec::Activation(a) => match a {
                Activation::Sigmoid => ElementKind::Sigmoid,
                Activation::Tanh => ElementKind::Tanh,
                Activation::Relu => ElementKind::Relu,
                Activation::LeakyRelu(_) => ElementKind::LeakyRelu,
                Activation::Softmax => ElementKind::Softmax,
                Activation::Identity => ElementKind::Identity,
            },
            ElementSpec::Dropout(_) => ElementKind::Dropout,
            ElementSpec::BatchNorm { .. } => ElementKind::BatchNorm,
            ElementSpec::BatchNorm2d { .. } => ElementKind::BatchNorm2d,
            ElementSpec::LayerNorm { .. } => ElementKind::LayerNorm,
            ElementSpec::Reshape(_) => ElementKind::Reshape,
            ElementSpec::Flatten => ElementKind::Flatten,
            ElementSpec::Conv2d { .. } => ElementKind::Conv2d,
            ElementSpec::MaxPool2d { .. } => ElementKind::MaxPool2d,
            ElementSpec::AvgPool2d { .. } => ElementKind::AvgPool2d,
        }
    }

    /// The learned tensors, `(suffix, shape)`, in PyTorch's state_dict order.
    pub fn parameter_shapes(&self) -> Vec<(&'static str, Vec<usize>)> {
        let mut out = Vec::new();
        match *self {
            ElementSpec::Linear {
                input,
                output,
                bias,
            } => {
                out.push(("weight", vec![output, input]));
                if bias {
                    out.push(("bias", vec![output]));
                }
            }
            ElementSpec::Conv2d {
                input,
                output,
                kernel,
                bias,
                ..
            } => {
                out.push(("weight", vec![output, input, kernel, kernel]));
                if bias {
                    out.push(("bias", vec![output]));
                }
            }
            ElementSpec::BatchNorm { features: n, .. }
            | ElementSpec::BatchNorm2d { channels: n, .. }
            | ElementSpec::LayerNorm { features: n, .. } => {
                out.push(("weight", vec![n]));
                out.push(("bias", vec![n]));
            }
            _ => {}
        }
        out
    }

    /// The buffers (state that is not learned), `(suffix, shape)`, in
    /// PyTorch's order: a batchnorm's `running_mean`, `running_var` (model
    /// dtype) and `num_batches_tracked` (I64, shape `[]`).
    pub fn buffer_shapes(&self) -> Vec<(&'static str, Vec<usize>)> {
        match *self {
            ElementSpec::BatchNorm { features: n, .. }
            | ElementSpec::BatchNorm2d { channels: n, .. } => vec![
                ("running_mean", vec![n]),
                ("running_var", vec![n]),
                ("num_batches_tracked", vec![]),
            ],
            _ => Vec::new(),
        }
    }

    /// Number of trainable numbers in the element (saturating at `usize::MAX`;
    /// a spec whose count overflows is refused by `ArchSpec::new`).
    pub fn parameter_count(&self) -> usize {
        self.checked_parameter_count().unwrap_or(usize::MAX)
    }

    /// Number of trainable numbers, or `None` when it overflows `usize`.
    pub fn checked_parameter_count(&self) -> Option<usize> {
        self.parameter_shapes()
            .iter()
            .map(|(_, s)| s.iter().try_fold(1usize, |a, &b| a.checked_mul(b)))
            .try_fold(0usize, |a, n| a.checked_add(n?))
    }
}

impl fmt::Display for ElementSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |on: bool, text: &'static str| if on { text } else { "" };
        match self {
            ElementSpec::Linear {
                input,
                output,
                bias,
            } => write!(f, "linear({input},{output}{})", flag(!bias, ",bias=false")),
            ElementSpec::Activation(a) => write!(f, "{a}"),
            ElementSpec::Dropout(p) => write!(f, "dropout({p})"),
            ElementSpec::BatchNorm {
                features: n,
                eps,
                momentum,
            }
            | ElementSpec::BatchNorm2d {
                channels: n,
                eps,
                momentum,
            } => {
                write!(f, "{}({n}", self.kind().name())?;
                if *eps != DEFAULT_NORM_EPS {
                    write!(f, ",eps={eps}")?;
                }
                if *momentum != DEFAULT_BN_MOMENTUM {
                    write!(f, ",momentum={momentum}")?;
                }
                write!(f, ")")
            }
            ElementSpec::LayerNorm { features, eps } => {
                write!(f, "layernorm({features}")?;
                if *eps != DEFAULT_NORM_EPS {
                    write!(f, ",eps={eps}")?;
                }
                write!(f, ")")
            }
            ElementSpec::Reshape(dims) => {
                let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
                write!(f, "reshape({})", dims.join(","))
            }
            ElementSpec::Flatten => write!(f, "flatten"),
            ElementSpec::Conv2d {
                input,
                output,
                kernel,
                stride,
                padding,
                bias,
            } => {
                write!(f, "conv2d({input},{output},{kernel}")?;
                if *stride != 1 {
                    write!(f, ",stride={stride}")?;
                }
                if *padding != 0 {
                    write!(f, ",padding={padding}")?;
                }
                write!(f, "{})", flag(!bias, ",bias=false"))
            }
            ElementSpec::MaxPool2d { kernel, stride }
            | ElementSpec::AvgPool2d { kernel, stride } => {
                write!(f, "{}({kernel}", self.kind().name())?;
                if stride != kernel {
                    write!(f, ",stride={stride}")?;
                }
                write!(f, ")")
            }
        }
    }
}

const EXPECTED: &str = "expected one of linear(IN,OUT), sigmoid, tanh, relu, leaky_relu(SLOPE), \
    softmax, identity, dropout(P), batchnorm(N), batchnorm2d(C), layernorm(N), \
    reshape(D1,...,Dk), flatten, conv2d(IN,OUT,K), maxpool2d(K), avgpool2d(K)";

/// The arguments of an element: sizes first, then `name=value` options.
struct Args<'a> {
    sizes: Vec<&'a str>,
    options: Vec<(&'a str, &'a str)>,
}

impl<'a> Args<'a> {
    fn split(args: Option<&'a str>, fail: &dyn Fn(String) -> Error) -> Result<Self> {
        let mut out = Args {
            sizes: Vec::new(),
            options: Vec::new(),
        };
        let Some(args) = args else { return Ok(out) };
        for part in args.split(',') {
            match part.split_once('=') {
                Some((name, value)) => {
                    if out.options.iter().any(|(n, _)| *n == name) {
                        return Err(fail(format!("option `{name}` is given twice")));
                    }
                    out.options.push((name, value));
                }
                None if out.options.is_empty() => out.sizes.push(part),
                None => return Err(fail(format!("`{part}`: sizes come before the options"))),
            }
        }
        Ok(out)
    }

    /// Refuses any option not in `known`.
    fn only(&self, known: &[&str], fail: &dyn Fn(String) -> Error) -> Result<()> {
        match self.options.iter().find(|(n, _)| !known.contains(n)) {
            None => Ok(()),
            Some((n, v)) if known.is_empty() => {
                Err(fail(format!("`{n}={v}`: this element takes no options")))
            }
            Some((n, v)) => Err(fail(format!(
                "`{n}={v}`: expected an option among {}",
                known.join(", ")
            ))),
        }
    }

    fn option(&self, name: &str) -> Option<&'a str> {
        self.options
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

fn whole(text: &str, what: &str, min: usize, fail: &dyn Fn(String) -> Error) -> Result<usize> {
    match text.parse::<usize>() {
        Ok(v) if v >= min => Ok(v),
        _ if min == 0 => Err(fail(format!("`{text}` is not a whole number ({what})"))),
        _ => Err(fail(format!(
            "`{text}` is not a positive whole number ({what})"
        ))),
    }
}

fn number(
    text: &str,
    what: &str,
    ok: impl Fn(f64) -> bool,
    range: &str,
    fail: &dyn Fn(String) -> Error,
) -> Result<f64> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && ok(v) => Ok(v),
        Ok(v) if v.is_finite() => Err(fail(format!(
            "{what} {text} is out of range: expected {range}"
        ))),
        _ => Err(fail(format!("`{text}` is not a finite number ({what})"))),
    }
}

fn bias_flag(text: Option<&str>, fail: &dyn Fn(String) -> Error) -> Result<bool> {
    match text {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(fail(format!(
            "`bias={other}`: expected bias=false or bias=true"
        ))),
    }
}

/// Parses one element (whitespace already removed); `index` is its position.
pub(super) fn parse_element(index: usize, element: &str) -> Result<ElementSpec> {
    let fail = |reason: String| Error::Spec {
        index,
        element: element.to_string(),
        reason,
    };
    if element.is_empty() {
        return Err(fail(format!("empty element; {EXPECTED}")));
    }
    let (name, args) = match element.split_once('(') {
        Some((name, rest)) => match rest.strip_suffix(')') {
            Some(args) if !args.contains(['(', ')']) => (name, Some(args)),
            _ => return Err(fail("text after the closing parenthesis".into())),
        },
        None => (element, None),
    };
    let Some(kind) = ElementKind::ALL.into_iter().find(|k| k.name() == name) else {
        return Err(fail(format!("unknown element `{name}`; {EXPECTED}")));
    };
    let no_args = |e: ElementSpec| match args {
        None => Ok(e),
        Some(_) => Err(fail(format!("`{name}` takes no arguments"))),
    };
    let a = Args::split(args, &fail)?;
    let count = |n: std::ops::RangeInclusive<usize>, usage: &str| {
        if n.contains(&a.sizes.len()) {
            Ok(())
        } else {
            Err(fail(format!("{name} needs {usage}")))
        }
    };
    let eps = || match a.option("eps") {
        None => Ok(DEFAULT_NORM_EPS),
        Some(t) => number(t, "eps", |v| v > 0.0, "a number greater than 0", &fail),
    };
    let momentum = || match a.option("momentum") {
        None => Ok(DEFAULT_BN_MOMENTUM),
        Some(t) => number(
            t,
            "momentum",
            |v| (0.0..=1.0).contains(&v),
            "a number in [0, 1]",
            &fail,
        ),
    };
    let spec = match kind {
        ElementKind::Sigmoid => no_args(ElementSpec::Activation(Activation::Sigmoid))?,
        ElementKind::Tanh => no_args(ElementSpec::Activation(Activation::Tanh))?,
        ElementKind::Relu => no_args(ElementSpec::Activation(Activation::Relu))?,
        ElementKind::Softmax => no_args(ElementSpec::Activation(Activation::Softmax))?,
        ElementKind::Identity => no_args(ElementSpec::Activation(Activation::Identity))?,
        ElementKind::Flatten => no_args(ElementSpec::Flatten)?,
        ElementKind::LeakyRelu => {
            let slope = match args {
                None => DEFAULT_LEAKY_SLOPE,
                Some(a) => match a.parse::<f64>() {
                    Ok(v) if v.is_finite() => v,
                    _ => return Err(fail(format!("`{a}` is not a finite number (the slope)"))),
                },
            };
            ElementSpec::Activation(Activation::LeakyRelu(slope))
        }
        ElementKind::Linear => {
            a.only(&["bias"], &fail)?;
            count(
                2..=2,
                "two sizes: linear(IN,OUT) or linear(IN,OUT,bias=false)",
            )?;
            ElementSpec::Linear {
                input: whole(a.sizes[0], "input size", 1, &fail)?,
                output: whole(a.sizes[1], "output size", 1, &fail)?,
                bias: bias_flag(a.option("bias"), &fail)?,
            }
        }
        ElementKind::Dropout => {
            a.only(&[], &fail)?;
            count(1..=1, "a probability: dropout(P) with 0 <= P < 1")?;
            let p = number(
                a.sizes[0],
                "the probability",
                |v| (0.0..1.0).contains(&v),
                "0 <= P < 1",
                &fail,
            )?;
            ElementSpec::Dropout(p)
        }
        ElementKind::BatchNorm | ElementKind::BatchNorm2d => {
            a.only(&["eps", "momentum"], &fail)?;
            count(1..=1, &format!("one size: {name}(N[,eps=E][,momentum=M])"))?;
            let n = whole(a.sizes[0], "features", 1, &fail)?;
            let (eps, momentum) = (eps()?, momentum()?);
            if kind == ElementKind::BatchNorm {
                ElementSpec::BatchNorm {
                    features: n,
                    eps,
                    momentum,
                }
            } else {
                ElementSpec::BatchNorm2d {
                    channels: n,
                    eps,
                    momentum,
                }
            }
        }
        ElementKind::LayerNorm => {
            a.only(&["eps"], &fail)?;
            count(1..=1, "one size: layernorm(N[,eps=E])")?;
            ElementSpec::LayerNorm {
                features: whole(a.sizes[0], "features", 1, &fail)?,
                eps: eps()?,
            }
        }
        ElementKind::Reshape => {
            a.only(&[], &fail)?;
            count(1..=usize::MAX, "at least one size: reshape(D1,...,Dk)")?;
            let dims = a
                .sizes
                .iter()
                .map(|s| whole(s, "size", 1, &fail))
                .collect::<Result<Vec<_>>>()?;
            ElementSpec::Reshape(dims)
        }
        ElementKind::Conv2d => {
            a.only(&["stride", "padding", "bias"], &fail)?;
            count(
                3..=3,
                "three sizes: conv2d(IN,OUT,K[,stride=S][,padding=P][,bias=false])",
            )?;
            ElementSpec::Conv2d {
                input: whole(a.sizes[0], "input channels", 1, &fail)?,
                output: whole(a.sizes[1], "output channels", 1, &fail)?,
                kernel: whole(a.sizes[2], "kernel size", 1, &fail)?,
                stride: a
                    .option("stride")
                    .map_or(Ok(1), |s| whole(s, "stride", 1, &fail))?,
                padding: a
                    .option("padding")
                    .map_or(Ok(0), |s| whole(s, "padding", 0, &fail))?,
                bias: bias_flag(a.option("bias"), &fail)?,
            }
        }
        ElementKind::MaxPool2d | ElementKind::AvgPool2d => {
            a.only(&["stride"], &fail)?;
            count(1..=1, &format!("one size: {name}(K[,stride=S])"))?;
            let kernel = whole(a.sizes[0], "kernel size", 1, &fail)?;
            let stride = a
                .option("stride")
                .map_or(Ok(kernel), |s| whole(s, "stride", 1, &fail))?;
            if kind == ElementKind::MaxPool2d {
                ElementSpec::MaxPool2d { kernel, stride }
            } else {
                ElementSpec::AvgPool2d { kernel, stride }
            }
        }
    };
    Ok(spec)
}
