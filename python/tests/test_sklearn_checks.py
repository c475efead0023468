"""scikit-learn's own estimator checks, each one a test: nothing skipped,
nothing expected to fail."""

from sklearn.utils.estimator_checks import parametrize_with_checks

import synapse_nn as sn


@parametrize_with_checks([sn.MLPClassifier(), sn.MLPRegressor()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
