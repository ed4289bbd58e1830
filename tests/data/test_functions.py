"""The function-fitting suite: seeded, disjoint splits, and the documented formulas."""

import math

import numpy as np
import pytest
from scipy import special

from mlpzoo.data.functions import FUNCTIONS, evaluate_function, load_function, sample_function
from mlpzoo.errors import DataError


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_deterministic_and_in_range(name):
    x1, y1 = sample_function(name, 50, seed=3)
    x2, y2 = sample_function(name, 50, seed=3)
    x3, _ = sample_function(name, 50, seed=4)
    assert x1.shape == (50, FUNCTIONS[name].dim) and y1.shape == (50,)
    assert (x1 == x2).all() and (y1 == y2).all() and not (x1 == x3).all()
    assert x1.abs().max() <= 1 and np.isfinite(y1.numpy()).all()


def test_formulas_by_hand():
    assert evaluate_function("f1", [[0.5, 1.0]])[0] == pytest.approx(math.exp(1.0 + 1.0))
    assert evaluate_function("f1", [[0.0, 0.5]])[0] == pytest.approx(math.exp(0.25))
    assert evaluate_function("f2", [[0.3, -0.5]])[0] == pytest.approx(-0.15)
    # x1^2 + x2^2 = 0.5 -> sin(pi/2) = 1; x3 = x4 = 0 -> sin(0) = 0.
    assert evaluate_function("f3", [[0.5, 0.5, 0.0, 0.0]])[0] == pytest.approx(math.exp(0.5))
    assert evaluate_function("bessel", [[0.0]])[0] == pytest.approx(1.0)
    assert evaluate_function("bessel", [[0.1]])[0] == pytest.approx(special.j0(2.0))
    # m = 0: F(phi | 0) = phi.
    assert evaluate_function("ellipkinc", [[0.7, -1.0]])[0] == pytest.approx(0.7)
    assert evaluate_function("ellipkinc", [[0.7, 1.0]])[0] == pytest.approx(special.ellipkinc(0.7, 1.0))


def test_targets_match_inputs():
    x, y = sample_function("f3", 20, seed=1)
    assert np.allclose(y.numpy(), evaluate_function("f3", x.numpy()), rtol=1e-5)


def test_load_function_splits():
    train, valid, test = load_function("f1", n_train=30, n_test=10, seed=0)
    assert (len(train), len(valid), len(test)) == (30, 10, 10)
    assert train.as_batch()["x"].shape == (30, 2)
    again = load_function("f1", n_train=30, n_test=10, seed=0)[2]
    assert (again.x == test.x).all()
    assert not (train.x[:10] == test.x).all()


def test_errors():
    with pytest.raises(DataError):
        sample_function("nope", 5)
    with pytest.raises(DataError):
        evaluate_function("f2", [[0.1, 0.2, 0.3]])
