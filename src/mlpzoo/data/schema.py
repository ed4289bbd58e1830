"""Feature schema: which columns are categorical, numeric or sequences, and how to encode them.

Vocabularies and statistics are fitted on training rows only. Index conventions, shared by every
model: 0 is padding (sequences), 1 is out-of-vocabulary (unseen, rare or missing categories),
2.. are the kept categories in order of decreasing training count.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch

from mlpzoo.errors import ConfigError, DataError

PAD, OOV = 0, 1
_NORMALIZE = ("standard", "minmax", "none")


def as_tokens(values: pd.Series) -> pd.Series:
    """Categories as strings, with whole floats written as integers.

    A missing value turns an integer column into float64 in pandas; without this, id 7 would be
    the token "7" in one file and "7.0" in another and never match its vocabulary entry.
    """
    if pd.api.types.is_float_dtype(values):
        finite = values.dropna()
        if len(finite) and np.all(np.mod(finite.to_numpy(), 1) == 0):
            return values.astype("Int64").astype(str)
    return values.astype(str)


@dataclass
class CategoricalField:
    """A categorical column. ``source`` groups fields by what they describe (user, item...)."""

    name: str
    min_count: int = 1
    source: str | None = None
    vocab: list[str] | None = None
    counts: list[int] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.min_count, bool) or not isinstance(self.min_count, int) or self.min_count < 1:
            raise ConfigError(
                f"categorical field {self.name!r}: min_count={self.min_count!r}; pass an integer >= 1 (1 keeps every "
                "category)"
            )

    @property
    def vocab_size(self) -> int:
        self._require_fitted()
        return len(self.vocab) + 2

    def row_counts(self) -> np.ndarray:
        """Training count of every index (padding and OOV count 0)."""
        self._require_fitted()
        return np.concatenate([[0, 0], np.asarray(self.counts, dtype=np.int64)])

    def fit(self, values: pd.Series) -> "CategoricalField":
        counts = as_tokens(values.dropna()).value_counts(sort=False)
        return self.from_counts(counts.index.tolist(), counts.to_numpy())

    def from_counts(self, tokens: list[str], counts: np.ndarray) -> "CategoricalField":
        """The fitted field for tokens seen ``counts`` times: keep those with at least ``min_count``."""
        counts = np.asarray(counts, dtype=np.int64)
        keep = counts >= self.min_count
        # Stable order: by count, then by token, so a vocabulary does not depend on row order.
        order = sorted(zip((-counts[keep]).tolist(), [t for t, k in zip(tokens, keep) if k]))
        return replace(self, vocab=[tok for _, tok in order], counts=[-c for c, _ in order])

    def encode(self, values: pd.Series) -> np.ndarray:
        self._require_fitted()
        index = pd.Index(self.vocab)
        codes = index.get_indexer(as_tokens(values).where(values.notna(), None))
        return np.where(codes < 0, OOV, codes + 2).astype(np.int64)

    def _require_fitted(self) -> None:
        if self.vocab is None:
            raise ConfigError(
                f"categorical field {self.name!r} has no vocabulary yet; call schema.fit(train_frame) first"
            )


@dataclass
class NumericField:
    """A numeric column: missing values filled, then normalised with training statistics.

    ``fill``: ``"mean"`` (training mean), a number, or ``"error"`` (refuse NaN).
    ``normalize``: ``"standard"`` (z-score), ``"minmax"`` or ``"none"``.
    """

    name: str
    fill: str | float = "mean"
    normalize: str = "standard"
    stats: dict[str, float] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.fill, str) and self.fill not in ("mean", "error"):
            raise ConfigError(f"numeric field {self.name!r}: fill={self.fill!r}; use 'mean', 'error' or a number")
        if not isinstance(self.fill, str) and not np.isfinite(self.fill):
            raise ConfigError(
                f"numeric field {self.name!r}: fill={self.fill!r}; use a finite number, 'mean' or 'error'"
            )
        if self.normalize not in _NORMALIZE:
            raise ConfigError(
                f"numeric field {self.name!r}: normalize={self.normalize!r}; use one of {', '.join(_NORMALIZE)}"
            )

    def fit(self, values: pd.Series) -> "NumericField":
        x = self._as_float(values)
        finite = x[np.isfinite(x)]
        if finite.size == 0:
            raise DataError(f"numeric field {self.name!r} has no finite training value; drop it or fix the column")
        stats = {
            "mean": float(finite.mean()),
            "std": float(finite.std()) or 1.0,
            "min": float(finite.min()),
            "max": float(finite.max()),
        }
        return replace(self, stats=stats)

    def encode(self, values: pd.Series) -> np.ndarray:
        if self.stats is None:
            raise ConfigError(f"numeric field {self.name!r} has no statistics yet; call schema.fit(train_frame) first")
        x = self._as_float(values)
        if np.isinf(x).any():
            raise DataError(
                f"numeric field {self.name!r} holds an infinite value at row {int(np.isinf(x).argmax())}; replace it "
                "or drop the row"
            )
        missing = np.isnan(x)
        if missing.any():
            if self.fill == "error":
                raise DataError(
                    f"numeric field {self.name!r} has NaN at row {int(missing.argmax())}; fill it, or set fill: mean "
                    "(or a number) for this field"
                )
            x = np.where(missing, self.stats["mean"] if self.fill == "mean" else float(self.fill), x)
        if self.normalize == "standard":
            x = (x - self.stats["mean"]) / self.stats["std"]
        elif self.normalize == "minmax":
            x = (x - self.stats["min"]) / max(self.stats["max"] - self.stats["min"], 1e-12)
        return x.astype(np.float32)

    def _as_float(self, values: pd.Series) -> np.ndarray:
        converted = pd.to_numeric(values, errors="coerce")
        bad = converted.isna() & values.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"numeric field {self.name!r}: value {values.iloc[row]!r} at row {row} is not a number; clean the "
                "column or declare it categorical"
            )
        return converted.to_numpy(dtype=np.float64)


@dataclass
class SequenceField:
    """A variable-length list of tokens (e.g. a behaviour history), padded or cut to ``max_len``.

    ``shares`` names the categorical field whose vocabulary and embedding it uses (an item
    history shares the target item's). Tokens are space-separated strings or lists; the most
    recent ``max_len`` tokens are kept and padding goes in front.
    """

    name: str
    shares: str
    max_len: int = 50
    separator: str = " "

    def __post_init__(self) -> None:
        if isinstance(self.max_len, bool) or not isinstance(self.max_len, int) or self.max_len < 1:
            raise ConfigError(f"sequence field {self.name!r}: max_len={self.max_len!r}; pass an integer >= 1")
        if not self.separator:
            raise ConfigError(f"sequence field {self.name!r}: separator is empty; pass e.g. ' ' or '|'")


_KINDS = {"categorical": CategoricalField, "numeric": NumericField, "sequence": SequenceField}


@dataclass
class FeatureSchema:
    """The columns a model sees, and the label (and optional group column, e.g. user for gAUC)."""

    categorical: list[CategoricalField] = field(default_factory=list)
    numeric: list[NumericField] = field(default_factory=list)
    sequence: list[SequenceField] = field(default_factory=list)
    label: str = "label"
    group: str | None = None

    def __post_init__(self) -> None:
        names = [f.name for f in self.categorical] + [f.name for f in self.numeric] + [f.name for f in self.sequence]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ConfigError(
                f"field(s) {', '.join(sorted(duplicates))} declared twice in the schema; keep one declaration each"
            )
        cat_names = {f.name for f in self.categorical}
        for seq in self.sequence:
            if seq.shares not in cat_names:
                raise ConfigError(
                    f"sequence field {seq.name!r} shares {seq.shares!r}, which is not a categorical field; use one "
                    f"of {sorted(cat_names)}"
                )

    # --- inspection -------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.categorical] + [f.name for f in self.numeric] + [f.name for f in self.sequence]

    def categorical_index(self, name: str) -> int:
        for i, f in enumerate(self.categorical):
            if f.name == name:
                return i
        raise ConfigError(
            f"no categorical field {name!r}; use one of the schema's {[f.name for f in self.categorical]}"
        )

    def fields_from(self, source: str) -> list[str]:
        return [f.name for f in self.categorical if f.source == source]

    def vocab_sizes(self) -> list[int]:
        return [f.vocab_size for f in self.categorical]

    def row_counts(self) -> np.ndarray:
        """Training count of every row of the concatenated embedding table."""
        return np.concatenate([f.row_counts() for f in self.categorical]) if self.categorical else np.zeros(0)

    # --- fitting and encoding ------------------------------------------------------------
    @staticmethod
    def _check_columns(frame: pd.DataFrame, wanted: list[str], where: str) -> None:
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise DataError(
                f"{where}: column(s) {', '.join(missing)} missing; present are "
                f"{', '.join(map(str, frame.columns[:20]))}; fix the data or the schema"
            )

    def fit(self, train: pd.DataFrame) -> "FeatureSchema":
        """A copy with vocabularies and statistics fitted on ``train`` (never on valid/test)."""
        self._check_columns(train, [f.name for f in self.categorical + self.numeric], "training frame")
        return replace(
            self,
            categorical=[f.fit(train[f.name]) for f in self.categorical],
            numeric=[f.fit(train[f.name]) for f in self.numeric],
        )

    def encode(self, frame: pd.DataFrame, where: str = "frame", sequences: dict[str, np.ndarray] | None = None):
        """Encode a frame into a :class:`TensorTable` (unseen categories -> OOV index).

        ``sequences`` may hold already-encoded ``(N, max_len)`` id arrays for sequence fields
        (built in bulk by a data set loader); other sequence fields are read from the frame.
        """
        from mlpzoo.data.tensors import TensorTable

        sequences = dict(sequences or {})
        wanted = [c for c in self.columns if c not in sequences] + [self.label] + ([self.group] if self.group else [])
        self._check_columns(frame, wanted, where)
        n = len(frame)
        categorical = (
            np.stack([f.encode(frame[f.name]) for f in self.categorical], axis=1)
            if self.categorical
            else np.zeros((n, 0), np.int64)
        )
        numeric = (
            np.stack([f.encode(frame[f.name]) for f in self.numeric], axis=1)
            if self.numeric
            else np.zeros((n, 0), np.float32)
        )
        for s in self.sequence:
            if s.name not in sequences:
                sequences[s.name] = self._encode_sequence(s, frame[s.name])
        label = self._encode_label(frame[self.label], where)
        # Groups (users for gAUC) keep their raw identity: unseen users must not merge into OOV.
        group = (
            None
            if self.group is None
            else torch.from_numpy(pd.factorize(as_tokens(frame[self.group]))[0].astype(np.int64))
        )
        return TensorTable(
            torch.from_numpy(categorical),
            torch.from_numpy(numeric),
            {k: torch.from_numpy(v) for k, v in sequences.items()},
            torch.from_numpy(label),
            group,
        )

    def _encode_sequence(self, seq: SequenceField, values: pd.Series) -> np.ndarray:
        vocab = self.categorical[self.categorical_index(seq.shares)]
        lists = [
            v
            if isinstance(v, (list, tuple, np.ndarray))
            else ([] if pd.isna(v) or v == "" else str(v).split(seq.separator))
            for v in values
        ]
        lengths = np.fromiter((min(len(x), seq.max_len) for x in lists), dtype=np.int64, count=len(lists))
        flat = pd.Series([str(t) for x in lists for t in list(x)[-seq.max_len :]], dtype=object)
        codes = vocab.encode(flat) if len(flat) else np.zeros(0, np.int64)
        out = np.zeros((len(lists), seq.max_len), dtype=np.int64)
        rows = np.repeat(np.arange(len(lists)), lengths)
        cols = (
            seq.max_len - np.concatenate([np.arange(k, 0, -1) for k in lengths])
            if len(lengths)
            else np.zeros(0, np.int64)
        )
        out[rows, cols] = codes
        return out

    def _encode_label(self, values: pd.Series, where: str) -> np.ndarray:
        y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(y)
        if bad.any():
            row = int(bad.argmax())
            raise DataError(
                f"{where}: label column {self.label!r} has a missing, infinite or non-numeric value "
                f"{values.iloc[row]!r} at row {row}; drop the row or fix the label"
            )
        return y.astype(np.float32)

    # --- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureSchema":
        """Build from a dict such as a YAML ``schema:`` block; unknown keys are named in the error."""
        allowed = {"categorical", "numeric", "sequence", "label", "group"}
        unknown = set(data) - allowed
        if unknown:
            raise ConfigError(
                f"schema: unknown key(s) {', '.join(sorted(unknown))}; valid keys are {', '.join(sorted(allowed))}"
            )
        from mlpzoo.config import build_config

        kwargs: dict[str, Any] = {k: v for k, v in data.items() if k in ("label", "group")}
        for key, value in kwargs.items():
            if not (isinstance(value, str) or (key == "group" and value is None)):
                raise ConfigError(f"schema.{key} = {value!r}; give a column name")
        for kind, cls_ in _KINDS.items():
            entries = data.get(kind) or []
            if not isinstance(entries, (list, tuple)):
                raise ConfigError(
                    f"schema.{kind} = {entries!r} is not a list; write one column name (or mapping) per list item"
                )
            items = []
            for position, item in enumerate(entries):
                if not isinstance(item, (str, dict)) or ("name" not in item if isinstance(item, dict) else False):
                    raise ConfigError(
                        f"schema.{kind}[{position}] = {item!r}; give a column name or a mapping with a name key"
                    )
                item = {"name": item} if isinstance(item, str) else dict(item)
                items.append(build_config(cls_, item, f"schema.{kind}[{item['name']}]"))
            kwargs[kind] = items
        return cls(**kwargs)
