"""A fresh run's initial weights (train/init.py): repeated fits of one pre-built model agree; the seed governs registered models."""

import pytest
import torch
from torch import nn

from mlpzoo.data.tensors import ArrayData
from mlpzoo.errors import ConfigError
from mlpzoo.registry import build_recipe, create_model
from mlpzoo.tasks import get_task
from mlpzoo.train.init import initialise
from mlpzoo.train.trainer import Trainer


class PlainNet(nn.Module):
    """A user's own module: no recipe, so a fresh fit starts from the weights it had at its first fit."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 1))

    def forward(self, batch):
        return self.body(batch["x"]).squeeze(-1)


def _data():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(96, 4, generator=generator)
    return ArrayData(x, (x[:, 0] * x[:, 1] + x[:, 2]).float())


def _fit(model, seed: int, **config):
    data = _data()
    cfg = {"seed": seed, "epochs": 3, "batch_size": 16, "progress": False, "save_checkpoints": False, **config}
    return Trainer(get_task("regression"), model, cfg).fit(data, data).metrics


@pytest.mark.parametrize("build", [lambda: create_model("mlp", in_features=4, hidden=(16,), dropout=0.1), PlainNet],
                         ids=["registered", "plain"])
def test_same_prebuilt_model_same_seed_same_metrics(build):
    model = build()
    first = _fit(model, 11)
    torch.randn(100)  # the global RNG moves on between fits, as it does in any program
    second = _fit(model, 11)
    other = _fit(model, 12)
    assert first == second
    assert other != first


def test_models_built_at_different_rng_states_agree_under_one_seed():
    torch.manual_seed(1)
    a = create_model("mlp", in_features=4, hidden=(16,))
    torch.manual_seed(2)
    b = create_model("mlp", in_features=4, hidden=(16,))
    assert _fit(a, 5) == _fit(b, 5)


def test_rebuilt_weights_are_the_familys_own_initialisation():
    """A registered model is rebuilt under the seed, so its own init (not PyTorch's default) is what trains."""
    model = create_model("mlp", in_features=4, hidden=(16,))
    torch.manual_seed(7)
    expected = create_model("mlp", in_features=4, hidden=(16,)).state_dict()
    initialise(model, 7)
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_initialise_leaves_the_global_rng_alone():
    model = create_model("mlp", in_features=4, hidden=(16,))
    torch.manual_seed(3)
    state = torch.get_rng_state()
    initialise(model, 9)
    assert torch.equal(torch.get_rng_state(), state)


def test_plain_module_keeps_its_custom_initialisation():
    """A plain module is not reset to PyTorch's defaults: a zero-initialised head stays zero."""
    model = PlainNet()
    torch.nn.init.zeros_(model.body[3].weight)
    initialise(model, 0)
    assert torch.count_nonzero(model.body[3].weight) == 0


def test_init_keep_trains_the_weights_the_model_holds():
    model = create_model("mlp", in_features=4, hidden=(16,))
    first = _fit(model, 11)
    tuned = _fit(model, 11, init="keep")  # fine-tuning: starts from the trained weights
    assert tuned != first
    assert tuned["valid"]["mse"] <= first["valid"]["mse"] * 1.05


def test_model_changed_after_create_model_or_its_first_fit_is_a_clear_error():
    model = create_model("mlp", in_features=4, hidden=(16,))
    model.mlp[0] = nn.Linear(4, 32)  # no longer what the recipe builds
    with pytest.raises(ConfigError, match="train.init: keep"):
        initialise(model, 0)
    plain = PlainNet()
    initialise(plain, 0)
    plain.body[0] = nn.Linear(4, 8)
    with pytest.raises(ConfigError, match="changed since its first fit"):
        initialise(plain, 0)


def test_create_model_records_its_recipe():
    model = create_model("mlp", in_features=4, hidden=(16,))
    assert build_recipe(model) == ("mlp", {"in_features": 4, "hidden": (16,)})
    assert build_recipe(PlainNet()) is None
