"""The seed governs a model's initial weights (``train.init: seed``, the default).

At the start of a fresh run (never when resuming) the Trainer redraws the model's weights under
``torch.manual_seed(train.seed)``, so the same model, data and seed give the same result however
many fits ran before in the process:

- a model built by :func:`mlpzoo.create_model` carries its recipe (name and arguments); it is built
  again under the seed and its weights are loaded into the model, so the family's own initialisation
  (truncated normals, zero-initialised heads, spline grids) is kept exactly;
- any other ``nn.Module`` has ``reset_parameters()`` of each submodule called under the seed (a
  registered model inside it is rebuilt as above), which is PyTorch's default initialisation: a custom initialisation done in ``__init__`` is lost, and a
  parameter of a module without ``reset_parameters`` keeps its current value. Register such a model
  (or set ``train.init: keep`` and seed it yourself).

``train.init: keep`` trains the weights the model holds (fine-tuning, a pruned or distilled model).
The global RNG is left as it was, so a run's shuffling and dropout do not depend on how the model was built.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import ConfigError


def initialise(model: nn.Module, seed: int) -> None:
    """Redraw ``model``'s weights under ``seed`` (see the module docstring for the rule)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _initialise(model)


def _initialise(module: nn.Module) -> None:
    from mlpzoo.registry import build_recipe, create_model

    recipe = build_recipe(module)
    if recipe is None:
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()
        for child in module.children():  # a registered model inside a wrapper keeps its own initialisation
            _initialise(child)
        return
    fresh = create_model(recipe[0], **recipe[1])
    mine, theirs = module.state_dict(), fresh.state_dict()
    if mine.keys() != theirs.keys() or any(mine[k].shape != theirs[k].shape for k in mine):
        raise ConfigError(f"model {recipe[0]!r} was changed after create_model (its parameters no longer match a fresh build), "
                          "so its initial weights cannot be drawn from train.seed; set train.init: keep to train the weights it holds")
    module.load_state_dict(theirs)
