"""A fresh run's initial weights follow its seed (``train.init: seed``, the default).

At the start of a fresh run (never when resuming) the Trainer looks at the model it was given:

- a model built by :func:`mlpzoo.create_model` that still holds the weights it was built with carries
  its recipe (name and arguments); it is built again under ``torch.manual_seed(train.seed)`` and those
  weights are loaded, so the seed governs its initialisation, whatever the global RNG did before, and
  the family's own scheme (truncated normals, zero-initialised heads, spline grids) is kept exactly;
- a model that was trained, loaded, pruned or changed since it was built keeps its weights: a second
  fit continues from them (fine-tuning, retraining a pruned or rewound network), as in plain PyTorch;
- any other ``nn.Module`` keeps its weights too: it cannot be rebuilt, and resetting it with its
  submodules' ``reset_parameters()`` would silently replace a custom initialisation. Build it after
  ``torch.manual_seed(seed)``, or register it and use ``create_model``, for the seed to govern it.

``train.init: keep`` never touches the weights. The global RNG is left as it was, so a run's shuffling
and dropout depend on the seed alone.
"""

from __future__ import annotations

from torch import nn


def initialise(model: nn.Module, seed: int) -> bool:
    """Draw ``model``'s initial weights under ``seed`` when it is a registered model still as built.

    Returns True when the weights were drawn again, False when the model keeps the weights it holds.
    """
    from mlpzoo.registry import redraw_initial_weights

    return redraw_initial_weights(model, seed)
