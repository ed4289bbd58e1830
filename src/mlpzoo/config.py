"""Typed configuration blocks built from plain dicts (YAML), with errors that list the valid keys."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

from mlpzoo.errors import ConfigError

T = TypeVar("T")


def _accepts(annotation: Any, value: Any) -> bool:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(arg, value) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple))
    if origin is dict:
        return isinstance(value, dict)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def build_config(cls: type[T], values: dict[str, Any] | None, where: str) -> T:
    """Instantiate dataclass ``cls`` from ``values``, checking keys and value types."""
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys are {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if not _accepts(hints[key], value):
            raise ConfigError(f"{where}.{key} = {value!r} has the wrong type; expected {hints[key]}".replace("typing.", ""))
    config = cls(**values)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate(where)
    return config
