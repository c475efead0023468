"""The estimators in scikit-learn's machinery: Pipeline, GridSearchCV,
cross_val_score, labels of any type, feature names, random_state as an
alias of seed, partial_fit, and the same results as Sequential."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import synapse_nn as sn

X, y = load_iris(return_X_y=True)
words = np.array(["setosa", "versicolor", "virginica"])[y]


def test_grid_search_finds_a_good_model():
    search = GridSearchCV(
        make_pipeline(StandardScaler(), sn.MLPClassifier(epochs=60, batch_size=16)),
        {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)], "mlpclassifier__lr": [0.001, 0.01]},
        cv=3,
    )
    search.fit(X, words)
    assert search.best_params_["mlpclassifier__lr"] == 0.01
    assert search.best_score_ > 0.9
    assert set(search.predict(X[:10])) <= set(words)


def test_cross_val_score():
    scores = cross_val_score(sn.MLPClassifier(epochs=80, batch_size=16, lr=0.01, normalize=True), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85


def test_labels_of_any_type_and_probabilities():
    clf = sn.MLPClassifier(hidden_layer_sizes=(16,), epochs=80, batch_size=16, lr=0.01, normalize=True).fit(X, words)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.n_features_in_ == 4
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1, atol=1e-6)
    assert np.array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert clf.score(X, words) > 0.9


def test_feature_names_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    clf = sn.MLPClassifier(epochs=5).fit(frame, y)
    assert list(clf.feature_names_in_) == ["sl", "sw", "pl", "pw"]


def test_random_state_is_an_alias_of_seed():
    a = sn.MLPRegressor(hidden_layer_sizes=(8,), epochs=5, seed=9).fit(X, y).predict(X)
    b = sn.MLPRegressor(hidden_layer_sizes=(8,), epochs=5, random_state=9).fit(X, y).predict(X)
    c = sn.MLPRegressor(hidden_layer_sizes=(8,), epochs=5, seed=10).fit(X, y).predict(X)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_same_results_as_sequential():
    clf = sn.MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", epochs=7, batch_size=10, lr=0.01, seed=4).fit(X, y)
    net = sn.Sequential("linear(4,8), tanh, linear(8,3)", seed=4)
    net.fit(X.astype(np.float32), y, loss="cross-entropy", optimizer="adam", lr=0.01, epochs=7, batch_size=10)
    assert np.array_equal(clf.predict_proba(X), net.predict(X.astype(np.float32), proba=True).astype(np.float64))


def test_partial_fit_continues():
    clf = sn.MLPClassifier(hidden_layer_sizes=(16,), lr=0.01, batch_size=16, normalize=True)
    for _ in range(40):
        clf.partial_fit(X, words, classes=np.unique(words))
    assert clf.n_iter_ == 40 and len(clf.history_["loss"]) == 40
    assert clf.score(X, words) > 0.9


def test_partial_fit_continues_the_optimizer():
    # Two partial_fit epochs are one fit of two epochs (Adam's moments go on).
    a = sn.MLPRegressor(hidden_layer_sizes=(8,), batch_size=16, shuffle=False)
    a.partial_fit(X, y)
    a.partial_fit(X, y)
    b = sn.MLPRegressor(hidden_layer_sizes=(8,), batch_size=16, shuffle=False, epochs=2).fit(X, y)
    assert np.array_equal(a.predict(X), b.predict(X))
