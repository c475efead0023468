//! The article's neuron, exactly as "How to Create a Simple Neural Network in
//! Python" writes it in numpy:
//!
//! ```text
//! output = sigmoid(X @ W)                    X [4, 3], W [3, 1]
//! error = y - output
//! W += X.T @ (error * output * (1 - output))
//! ```
//!
//! ```
//! use synapse_reference::ArticleNeuron;
//! // np.random.seed(1); 2 * np.random.random((3, 1)) - 1
//! let mut neuron = ArticleNeuron::new([-0.16595599, 0.44064899, -0.99977125]);
//! neuron.train(&ArticleNeuron::TRAINING_INPUTS, &ArticleNeuron::TRAINING_OUTPUTS, 15_000);
//! assert!((neuron.think([1.0, 0.0, 0.0]) - 0.9999584).abs() < 1e-7);
//! ```

/// One sigmoid neuron with three inputs and no bias.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleNeuron {
    /// The synaptic weights, the article's `(3, 1)` column.
    pub weights: [f64; 3],
}

/// `1 / (1 + e^-x)`, written as numpy evaluates it.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The derivative of the sigmoid, given its output `s`: `s (1 - s)`.
pub fn sigmoid_derivative(s: f64) -> f64 {
    s * (1.0 - s)
}

impl ArticleNeuron {
    /// The article's four training rows.
    pub const TRAINING_INPUTS: [[f64; 3]; 4] = [
        [0.0, 0.0, 1.0],
        [1.0, 1.0, 1.0],
        [1.0, 0.0, 1.0],
        [0.0, 1.0, 1.0],
    ];
    /// The article's targets: the first input.
    pub const TRAINING_OUTPUTS: [f64; 4] = [0.0, 1.0, 1.0, 0.0];

    /// A neuron with the given starting weights.
    pub fn new(weights: [f64; 3]) -> Self {
        Self { weights }
    }

    /// `sigmoid(x . W)` for one row.
    pub fn think(&self, x: [f64; 3]) -> f64 {
        let z: f64 = x.iter().zip(&self.weights).map(|(a, w)| a * w).sum();
        sigmoid(z)
    }

    /// One full-batch step of the article's rule.
    pub fn step(&mut self, inputs: &[[f64; 3]], outputs: &[f64]) {
        // forward: output_n = sigmoid(x_n . W); error_n = y_n - output_n
        // local derivative: d output / d z = output (1 - output)
        let delta: Vec<f64> = inputs
            .iter()
            .zip(outputs)
            .map(|(x, y)| {
                let out = self.think(*x);
                (y - out) * sigmoid_derivative(out)
            })
            .collect();
        // adjustments = X.T @ delta: for weight j, sum over rows in order
        for j in 0..3 {
            let adjustment: f64 = inputs.iter().zip(&delta).map(|(x, d)| x[j] * d).sum();
            self.weights[j] += adjustment;
        }
    }

    /// `iterations` full-batch steps.
    pub fn train(&mut self, inputs: &[[f64; 3]], outputs: &[f64], iterations: usize) {
        for _ in 0..iterations {
            self.step(inputs, outputs);
        }
    }
}
