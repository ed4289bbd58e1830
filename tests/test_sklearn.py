"""The scikit-learn estimators: the estimator checks, Pipeline / GridSearchCV / clone, real data."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlpzoo.sklearn import CTRClassifier, MLPZooClassifier, MLPZooRegressor

SMALL_CTR = {
    "mlp1_hidden_units": (40,),
    "mlp2_hidden_units": (20,),
    "mlp1_dropout": 0.0,
    "mlp2_dropout": 0.0,
    "embedding_regularizer": 0.0,
}


@parametrize_with_checks(
    [
        MLPZooClassifier(hidden=(32,), epochs=60, patience=10),
        MLPZooRegressor(hidden=(32,), epochs=60, patience=10),
        MLPZooClassifier(model="kan_bspline", hidden=(8,), epochs=40, patience=10),
        CTRClassifier(model_params=SMALL_CTR, epochs=30, batch_size=64, learning_rate=3e-3, patience=5),
    ]
)
def test_estimator_checks(estimator, check):
    check(estimator)


def test_pipeline_grid_search_and_clone():
    X, y = make_classification(n_samples=300, n_features=8, n_informative=5, random_state=0)
    pipe = make_pipeline(StandardScaler(), MLPZooClassifier(hidden=(16,), epochs=30))
    search = GridSearchCV(pipe, {"mlpzooclassifier__learning_rate": [1e-3, 1e-2]}, cv=2).fit(X, y)
    assert search.best_score_ > 0.7
    twin = clone(search.best_estimator_)
    assert (
        twin.get_params()["mlpzooclassifier__learning_rate"] == search.best_params_["mlpzooclassifier__learning_rate"]
    )
    assert not hasattr(twin[-1], "network_")


def test_same_seed_same_predictions_and_seed_matters():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    a = MLPZooRegressor(hidden=(16,), epochs=20, random_state=1).fit(X, y).predict(X)
    b = MLPZooRegressor(hidden=(16,), epochs=20, random_state=1).fit(X, y).predict(X)
    c = MLPZooRegressor(hidden=(16,), epochs=20, random_state=2).fit(X, y).predict(X)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_digits_accuracy():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    model = MLPZooClassifier(hidden=(64,), epochs=60).fit(X_train, y_train)
    assert model.score(X_test, y_test) > 0.93
    assert model.predict_proba(X_test).shape == (len(X_test), 10)


def test_ctr_classifier_on_movielens(need_data):
    from mlpzoo.data.readers import read_atomic

    root = need_data("movielens-100k")
    ratings = read_atomic(root / "movielens-100k" / "ml-100k.inter").head(20000)
    X = ratings[["user_id", "item_id"]].astype(str)
    y = (ratings["rating"] >= 4).astype(int).to_numpy()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    model = CTRClassifier(model_params=SMALL_CTR, epochs=5, batch_size=512).fit(X_train, y_train)
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
    assert auc > 0.65  # user and item identity alone carry signal; a constant gives 0.5
    unseen = pd.DataFrame({"user_id": ["no-such-user"], "item_id": ["no-such-item"]})
    assert model.predict_proba(unseen).shape == (1, 2)  # unseen categories go to the OOV index


def test_clear_errors():
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    with pytest.raises(ValueError, match="binary"):
        CTRClassifier().fit(X, np.arange(60) % 3)
    with pytest.raises(ValueError, match="column"):
        CTRClassifier(categorical=("nope",)).fit(pd.DataFrame(X, columns=list("abcd")), y)
    model = MLPZooClassifier(hidden=(4,), epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :3])
