"""Model registry in the style of timm: models register by name, users build them by name."""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import re
from dataclasses import dataclass
from typing import Callable

from torch import nn

from mlpzoo.errors import ConfigError

Example = Callable[[], tuple[dict, tuple]]


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its builder, family, catalog paper id and example (see :func:`model_example`)."""

    name: str
    builder: Callable[..., nn.Module]
    family: str
    paper: str | None
    example: Example | None = None


_MODELS: dict[str, ModelEntry] = {}
_RECIPE = "_mlpzoo_recipe"


def register_model(name: str, family: str, paper: str | None = None, example: Example | None = None):
    """Decorator registering a builder (a class or a function returning an nn.Module).

    ``example`` is a function returning ``(kwargs, inputs)``: small keyword arguments for
    ``create_model(name, **kwargs)`` and the tuple of positional inputs to ``model(*inputs)``, a batch
    of two or three drawn from a seeded generator. The tests build and run every model from it.
    """

    def wrap(builder):
        if name in _MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        _MODELS[name] = ModelEntry(name, builder, family, paper, example)
        return builder

    return wrap


def _ensure_loaded() -> None:
    # Importing the model package runs every @register_model decorator.
    import mlpzoo.models  # noqa: F401


def list_models(pattern: str = "*", family: str | None = None) -> list[str]:
    """Registered model names matching a shell-style pattern, sorted."""
    _ensure_loaded()
    return sorted(
        name
        for name, entry in _MODELS.items()
        if fnmatch.fnmatch(name, pattern) and (family is None or entry.family == family)
    )


def model_entry(name: str) -> ModelEntry:
    _ensure_loaded()
    if name not in _MODELS:
        close = difflib.get_close_matches(name, _MODELS, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ConfigError(
            f"unknown model {name!r}; {hint}use a name that list_models() shows (there are {len(_MODELS)})"
        )
    return _MODELS[name]


def model_example(name: str) -> tuple[dict, tuple]:
    """``(kwargs, inputs)`` of a registered model: ``create_model(name, **kwargs)(*inputs)`` runs a tiny batch.

    Every call builds fresh inputs from the same seed, so two calls give equal tensors.
    """
    entry = model_entry(name)
    if entry.example is None:
        raise ConfigError(
            f"model {name!r} has no example; register it with example=<function returning (kwargs, inputs)>"
        )
    result = entry.example()
    shaped = isinstance(result, tuple) and len(result) == 2
    if not (shaped and isinstance(result[0], dict) and isinstance(result[1], (tuple, list))):
        raise ConfigError(
            f"the example of model {name!r} returned {type(result).__name__}; "
            "return (kwargs dict, tuple of positional inputs)"
        )
    kwargs, inputs = result
    return dict(kwargs), tuple(inputs)


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; keyword arguments override its published defaults."""
    entry = model_entry(name)
    params = inspect.signature(entry.builder).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise ConfigError(
                f"model {name!r}: unknown argument(s) {', '.join(unknown)}; valid arguments are {', '.join(params)}"
            )
    try:
        model = entry.builder(**kwargs)
    except TypeError as err:
        # A builder taking **kwargs passes them on; the layer that rejects one names itself.
        found = re.match(r"(?P<owner>[\w.]+)\(\) got an unexpected keyword argument '(?P<arg>\w+)'", str(err))
        if found:
            owner = found["owner"].removesuffix(".__init__")
            raise ConfigError(
                f"model {name!r}: unknown argument {found['arg']!r} (rejected by {owner}); "
                f"remove it or fix its spelling, see help({owner})"
            ) from err
        raise
    # The recipe lets the Trainer draw the initial weights again under its seed (train/init.py), as long
    # as the model still holds the weights it was built with (its fingerprint says so).
    object.__setattr__(model, _RECIPE, (name, dict(kwargs), weights_fingerprint(model)))
    return model


def build_recipe(model: nn.Module) -> tuple[str, dict] | None:
    """``(name, kwargs)`` of a model built by :func:`create_model`, or None for any other module."""
    recipe = getattr(model, _RECIPE, None)
    return None if recipe is None else recipe[:2]


def is_as_built(model: nn.Module) -> bool:
    """True when a model built by :func:`create_model` still holds exactly the weights it was built with
    (not trained, loaded, pruned or resized since; a dtype or device move keeps the values)."""
    recipe = getattr(model, _RECIPE, None)
    return recipe is not None and weights_fingerprint(model) == recipe[2]


def redraw_initial_weights(model: nn.Module, seed: int) -> bool:
    """Build a model that is still as built again under ``torch.manual_seed(seed)`` and load those weights.

    Returns False (and touches nothing) for a model not built by :func:`create_model` or changed since.
    The global RNG is left as it was.
    """
    import torch

    if not is_as_built(model):
        return False
    name, kwargs, _ = getattr(model, _RECIPE)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = create_model(name, **kwargs).state_dict()
    model.load_state_dict(fresh)
    object.__setattr__(model, _RECIPE, (name, kwargs, weights_fingerprint(model)))  # still as built
    return True


def weights_fingerprint(model: nn.Module) -> tuple:
    """Names, shapes and float64 sums of every parameter and buffer: changes when any weight does.

    A model built on the meta device (to count parameters without memory) has no values: shapes only.
    """
    import torch

    def total(value: torch.Tensor) -> float | int | None:
        if value.is_meta:
            return None
        if value.is_floating_point():
            return float(value.double().sum())
        return int(value.long().sum()) if value.numel() else 0

    with torch.no_grad():
        return tuple((key, tuple(value.shape), total(value.detach())) for key, value in model.state_dict().items())
