"""The article "How to Create a Simple Neural Network in Python", from Python
with synapse_nn: one sigmoid neuron learns that the answer is the first of
three inputs.

Expected output (run: python3 python/examples/article.py):
    starting weights [-0.16595599  0.44064899 -0.99977125]
    ending weights [10.08740896 -0.20695366 -4.83757835]
    new situation [1, 0, 0] -> 0.9999584016709994
"""

import numpy as np

import synapse_nn as sn

# %% The training set: four examples, the output is the first input.
X = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=np.float64)
y = np.array([[0, 1, 1, 0]], dtype=np.float64).T

# %% The neuron, with the article's starting weights (numpy's np.random.seed(1)).
net = sn.Sequential("linear(3,1,bias=false), sigmoid", init="numpy-uniform", seed=1, dtype="float64")
np.set_printoptions(precision=8)
print("starting weights", net.state_dict()["0.weight"][0])

# %% The article's rule: SGD at learning rate 1 on 0.5 * sum of squared errors, 15000 times.
history = net.fit(X, y, loss="sse", optimizer="sgd", lr=1.0, epochs=15000, batch_size="full")
print("ending weights", net.state_dict()["0.weight"][0])

# %% The new situation.
print("new situation [1, 0, 0] ->", net.predict(np.array([[1.0, 0.0, 0.0]]))[0, 0])
