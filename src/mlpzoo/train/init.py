"""A fresh run's initial weights do not depend on what ran before it (``train.init: seed``, the default).

At the start of a fresh run (never when resuming) the Trainer sets the model's initial weights, so
the same model, data and seed give the same result however many fits ran before in the process:

- a model built by :func:`mlpzoo.create_model` carries its recipe (name and arguments); it is built
  again under ``torch.manual_seed(train.seed)`` and those weights are loaded, so the seed governs its
  initialisation and the family's own scheme (truncated normals, zero-initialised heads, spline
  grids) is kept exactly;
- any other ``nn.Module`` cannot be rebuilt, and resetting it with its submodules'
  ``reset_parameters()`` would silently replace a custom initialisation (an RBF-KAN's truncated
  normal, a zero-initialised head) by PyTorch's defaults. Instead the weights it holds at its first
  fresh fit are recorded on it, and every later fresh fit starts from them again. Its initialisation
  is then whatever RNG state it was built under: build it after ``torch.manual_seed(seed)`` (or
  register it and use ``create_model``) for the seed to govern it.

``train.init: keep`` trains the weights the model holds now (fine-tuning, a pruned or distilled model).
The global RNG is left as it was, so a run's shuffling and dropout do not depend on how the model was built.
"""

from __future__ import annotations

import torch
from torch import nn

from mlpzoo.errors import ConfigError

_INITIAL = "_mlpzoo_initial_state"


def initialise(model: nn.Module, seed: int) -> None:
    """Set ``model``'s initial weights for a fresh run (see the module docstring for the rule)."""
    from mlpzoo.registry import build_recipe, create_model

    recipe = build_recipe(model)
    if recipe is None:
        _restore_first_weights(model)
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = create_model(recipe[0], **recipe[1]).state_dict()
    _load_same_shapes(model, fresh, f"model {recipe[0]!r} was changed after create_model")


def _restore_first_weights(model: nn.Module) -> None:
    initial = getattr(model, _INITIAL, None)
    if initial is None:
        object.__setattr__(model, _INITIAL, {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()})
        return
    _load_same_shapes(model, initial, f"{type(model).__name__} was changed since its first fit")


def _load_same_shapes(model: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    mine = model.state_dict()
    if mine.keys() != state.keys() or any(mine[k].shape != state[k].shape for k in mine):
        raise ConfigError(f"{what} (its parameters no longer match), so a fresh run cannot set its initial weights; "
                          "set train.init: keep to train the weights it holds")
    model.load_state_dict(state)
