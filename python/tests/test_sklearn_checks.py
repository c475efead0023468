"""scikit-learn's own estimator checks, each one a test: nothing skipped,
nothing expected to fail (conftest.py sets SCIPY_ARRAY_API=1, without which
check_array_api_input skips itself).

What the checks asked of the estimators (python/synapse_nn/sklearn.py):
- check_fit2d_1sample: a classifier fitted on one row (so one class) must
  say "1 class" / "one class" / "1 sample"...; the library's "cross-entropy
  needs at least 2 classes, the target column has 1" says neither, so the
  classifier refuses one class in scikit-learn's words first.
- check_regressor_multioutput: predictions must be float64, also from a
  float32 network (MLPRegressor.predict converts them).
- The input checks (NaN/inf, complex, sparse, empty, 1-d, object dtype, wrong
  feature count, y None, regression targets given to a classifier, a column
  y) are scikit-learn's own `validate_data` and `check_classification_targets`,
  called before anything reaches synapse; fit and predict on subsets, in any
  order, twice, after pickling, give the same bits because training is seeded
  and each row's forward pass does not depend on the others.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

import synapse_nn as sn


@parametrize_with_checks([sn.MLPClassifier(), sn.MLPRegressor()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
