"""Typed configuration blocks built from plain dicts (YAML), with errors that list the valid keys.

YAML is read with :func:`load_yaml`, PyYAML's safe loader taught YAML 1.2's floats: PyYAML follows
YAML 1.1, where ``1e-3`` (no dot) is a string, so ``lr: 1e-3`` would otherwise be rejected as text.
For the same reason :func:`build_config` accepts a numeric string such as ``"1e-3"`` for a float
field (an int field stays strict: ``"64"`` is an error, as quoting a number is then deliberate).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from mlpzoo.errors import ConfigError

T = TypeVar("T")

# YAML 1.2 core schema floats: 1e-3, 1.5, .5, -2E+4 (PyYAML's 1.1 pattern needs a dot in the mantissa).
_FLOAT = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


class _Loader(yaml.SafeLoader):
    """The safe loader with YAML 1.2 floats."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*"
        r"|[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML text (safe loader, YAML 1.2 floats); a syntax error is one line naming ``where``."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        reason = " ".join(str(err).split())[:160]
        raise ConfigError(f"{where}: not valid YAML ({reason}); check indentation, colons and brackets") from None


def read_yaml_file(path: str | Path) -> dict:
    """A YAML config file as a mapping; not UTF-8, not YAML or not a mapping is a one-line error."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save the config as UTF-8") from None
    except OSError as err:
        raise ConfigError(
            f"{path}: cannot be read ({err.strerror or err}); check the path and its permissions"
        ) from None
    spec = load_yaml(text, str(path))
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: expected a mapping with sections data, model, train, got {type(spec).__name__}")
    return spec


def apply_overrides(spec: dict, overrides: typing.Iterable[str], source: str = "config") -> dict:
    """``spec`` with ``SECTION.KEY=VALUE`` overrides (VALUE in YAML syntax) written in; a malformed one is an error."""
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, field = key.strip().partition(".")
        if not sep or not dot or not section or not field or "." in field:
            raise ConfigError(f"--set {item!r}: use SECTION.KEY=VALUE, e.g. train.epochs=3")
        if spec.get(section) is None:
            spec[section] = {}
        if not isinstance(spec[section], dict):
            raise ConfigError(f"--set {item!r}: section {section!r} of {source} is not a mapping; fix the config file")
        spec[section][field] = load_yaml(value, f"--set {item!r}") if value.strip() else None
    return spec


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


def _wants_float(annotation: Any) -> bool:
    return annotation is float or float in typing.get_args(annotation)


def build_config(cls: type[T], values: dict[str, Any] | None, where: str) -> T:
    """Instantiate dataclass ``cls`` from ``values``, checking keys and value types."""
    if values is not None and not isinstance(values, dict):
        raise ConfigError(
            f"{where} must be a mapping of keys to values, got {type(values).__name__} {values!r:.60}; "
            f"write it as '{where}:' followed by indented 'key: value' lines"
        )
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(map(str, values)) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys are {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if isinstance(value, str) and _wants_float(hints[key]) and _FLOAT.fullmatch(value.strip()):
            values[key] = value = float(value)  # YAML 1.1 reads 1e-3 as a string
        if not _accepts(hints[key], value):
            raise ConfigError(
                f"{where}.{key} = {value!r} has the wrong type; expected {hints[key]}".replace("typing.", "")
            )
    config = cls(**values)
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate(where)
    return config
