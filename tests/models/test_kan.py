"""KANNet and the plain MLP: every registered KAN model and "mlp" runs forward and backward."""

import pytest
import torch

import mlpzoo
from mlpzoo.errors import ConfigError
from mlpzoo.measure import count_parameters
from mlpzoo.models.kan import KANNet, build, width_for_parameters

KAN_MODELS = ["kan_bspline", "kan_rbf", "kan_relu", "af_kan", "s_kan", "gr_kan"]


def test_registered():
    names = mlpzoo.list_models()
    assert set(KAN_MODELS + ["mlp"]) <= set(names)
    assert set(KAN_MODELS) <= set(mlpzoo.list_models(family="kan"))


@pytest.mark.parametrize("name", KAN_MODELS + ["mlp"])
@pytest.mark.parametrize("out", [1, 3])
def test_forward_backward(name, out):
    torch.manual_seed(0)
    model = mlpzoo.create_model(name, in_features=4, out_features=out, hidden=(8, 8))
    x = torch.rand(5, 4) * 2 - 1
    y = model({"x": x})
    assert y.shape == ((5,) if out == 1 else (5, out))
    assert torch.isfinite(y).all()
    y.square().sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_regularization_loss_weight():
    model = KANNet(2, 1, (4,), layer="bspline")
    assert float(model.regularization_loss({})) == 0.0
    weighted = KANNet(2, 1, (4,), layer="bspline", regularization_weight=0.1)
    loss = weighted.regularization_loss({})
    assert loss.item() > 0 and loss.requires_grad


def test_select_and_prune():
    torch.manual_seed(0)
    model = KANNet(2, 1, (4,), layer="selectable")
    before = count_parameters(model)
    chosen = model.select()
    assert [len(c) for c in chosen] == [2, 4]
    model.prune()
    assert count_parameters(model) < before
    assert model({"x": torch.zeros(3, 2)}).shape == (3,)
    with pytest.raises(ConfigError):
        KANNet(2, 1, (4,), layer="rbf").select()


def test_unknown_layer():
    with pytest.raises(ConfigError):
        KANNet(2, 1, (4,), layer="nope")


@pytest.mark.parametrize(
    "kind,kwargs",
    [
        ("mlp", {}),
        ("bspline", {}),
        ("rbf", {}),
        ("relu", {}),
        ("selectable", {}),
        ("af", {"functions": ("relu", "silu"), "num_grids": 6, "norm": "none"}),
    ],
)
@pytest.mark.parametrize("dim", [1, 2, 4])
def test_width_for_parameters_near_target(kind, kwargs, dim):
    target = 1200  # the s-kan claim's target; coarse layers (S-KAN) step by ~10 % near 800
    width = width_for_parameters(kind, dim, 1, 2, target, **kwargs)
    count = count_parameters(build(kind, dim, 1, (width, width), **kwargs))
    assert abs(count - target) <= 0.1 * target


def test_width_for_parameters_closest():
    width = width_for_parameters("mlp", 3, 1, 1, 50)
    counts = {w: count_parameters(build("mlp", 3, 1, (w,))) for w in (width - 1, width, width + 1)}
    assert min(counts, key=lambda w: abs(counts[w] - 50)) == width
