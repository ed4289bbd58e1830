"""A fresh run's initial weights (train/init.py): the seed governs a registered model still as built; anything
trained, loaded or changed keeps its weights."""

import torch
from torch import nn

from mlpzoo.data.tensors import ArrayData
from mlpzoo.registry import build_recipe, create_model
from mlpzoo.tasks import get_task
from mlpzoo.train.init import initialise
from mlpzoo.train.trainer import Trainer


class PlainNet(nn.Module):
    """A user's own module: no recipe, so the Trainer never touches its weights."""

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


def test_prebuilt_model_same_seed_same_metrics_however_the_rng_moved():
    results = []
    for noise in (0, 100):
        torch.randn(noise)  # the global RNG moves on between builds, as it does in any program
        model = create_model("mlp", in_features=4, hidden=(16,), dropout=0.1)
        torch.randn(noise + 7)
        results.append(_fit(model, 11))
    assert results[0] == results[1]
    assert _fit(create_model("mlp", in_features=4, hidden=(16,), dropout=0.1), 12) != results[0]


def test_a_trained_model_keeps_its_weights_on_the_next_fit():
    """A second fit of the same object continues from the trained weights (as in PyTorch), never resets them."""
    model = create_model("mlp", in_features=4, hidden=(16,))
    _fit(model, 11)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    assert not initialise(model, 11)
    for key, value in model.state_dict().items():
        assert torch.equal(value, trained[key]), key


def test_a_pruned_or_loaded_model_is_not_redrawn():
    model = create_model("mlp", in_features=4, hidden=(16,))
    with torch.no_grad():
        model.mlp[0].weight[:, 0] = 0.0  # a pruned (or rewound, or loaded) network is trained as it is
    assert not initialise(model, 3)
    assert torch.count_nonzero(model.mlp[0].weight[:, 0]) == 0


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


def test_init_keep_trains_the_weights_the_model_holds(monkeypatch):
    model = create_model("mlp", in_features=4, hidden=(16,))
    redrawn = []
    monkeypatch.setattr("mlpzoo.train.trainer.initialise", lambda m, seed: redrawn.append(seed))
    _fit(model, 11, init="keep", epochs=1)
    _fit(model, 11, epochs=1)
    assert redrawn == [11]  # only the fit with init: seed asked for fresh weights


def test_create_model_records_its_recipe():
    model = create_model("mlp", in_features=4, hidden=(16,))
    assert build_recipe(model) == ("mlp", {"in_features": 4, "hidden": (16,)})
    assert build_recipe(PlainNet()) is None
