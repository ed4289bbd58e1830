"""The MPEA data set (Citrine Informatics): compositions, processing and properties of
multi-principal element (high-entropy) alloys.

Borg et al., "Expanded dataset of mechanical properties and observed phases of multi-principal
element alloys", Scientific Data 7, 430 (2020); file ``mpea/MPEA_dataset.csv`` (1,545 rows,
Apache-2.0), found with :func:`~mlpzoo.data.paths.require_file`.

Features per row: the atomic fraction of every element seen in the file (``FORMULA`` such as
``"Al0.25 Co1 Fe1 Ni1"``, normalised to sum 1; the concatenated style ``"AlCoCrFeNi"`` with
implicit 1s parses too, though the file uses only the spaced style), the processing method
one-hot (``PROPERTY: Processing method``: CAST, WROUGHT, ANNEAL, POWDER, OTHER; a missing value is
all zeros), the test type one-hot (``PROPERTY: Type of test``: C compression, T tension; missing
is all zeros) and the test temperature in degrees C (``PROPERTY: Test temperature ($^\\circ$C)``,
missing filled with 25, room temperature).

Targets: ``phase`` (``PROPERTY: BCC/FCC/other``, classes BCC, FCC, other; rows without it are
dropped) and ``yield_strength`` (``PROPERTY: YS (MPa)``; rows without it are dropped).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlpzoo.data.paths import require_file
from mlpzoo.errors import DataError

FORMULA = "FORMULA"
PHASE = "PROPERTY: BCC/FCC/other"
YIELD_STRENGTH = "PROPERTY: YS (MPa)"
PROCESSING = "PROPERTY: Processing method"
TEST_TYPE = "PROPERTY: Type of test"
TEMPERATURE = "PROPERTY: Test temperature ($^\\circ$C)"
ROOM_TEMPERATURE = 25.0
PHASE_CLASSES = ("BCC", "FCC", "other")
TARGETS = {"phase": PHASE, "yield_strength": YIELD_STRENGTH}

ELEMENTS = frozenset(
    """
H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr
Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm
Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No
Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og
""".split()
)
_TOKEN = re.compile(r"([A-Z][a-z]?)(\d+(?:\.\d*)?|\.\d+)?")


def parse_formula(formula: str, row: int | None = None) -> dict[str, float]:
    """Element -> atomic fraction (summing to 1) of a formula like ``"Al0.25 Co1 Fe1 Ni1"`` or ``"AlCoCrFeNi"``.

    A repeated element adds up. Raises a one-line :class:`DataError` naming the row (when given)
    and the offending token for anything else: unknown symbols, stray characters, zero totals.
    """
    where = f"row {row}: " if row is not None else ""
    if not isinstance(formula, str) or not formula.strip():
        raise DataError(f"MPEA {where}empty FORMULA {formula!r}; expected e.g. 'Al0.25 Co1 Fe1 Ni1'")
    amounts: dict[str, float] = {}
    for word in formula.split():
        pos = 0
        while pos < len(word):
            match = _TOKEN.match(word, pos)
            if match is None or match.group(1) not in ELEMENTS:
                bad = word[pos:] if match is None else match.group(0)
                raise DataError(
                    f"MPEA {where}malformed FORMULA {formula!r} at token {bad!r}; "
                    "expected element symbols with optional amounts, e.g. 'Al0.25 Co1 Fe1 Ni1'"
                )
            element, amount = match.group(1), match.group(2)
            amounts[element] = amounts.get(element, 0.0) + (float(amount) if amount else 1.0)
            pos = match.end()
    total = sum(amounts.values())
    if not total > 0:
        raise DataError(f"MPEA {where}FORMULA {formula!r} has total amount {total}; give positive amounts")
    return {element: value / total for element, value in amounts.items()}


@dataclass
class MPEATable:
    """Encoded rows: features ``x`` (float32), targets ``y`` (class ids int64 or MPa float32)."""

    x: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target: str
    classes: tuple[str, ...] | None
    rows: np.ndarray  # row numbers in the CSV (0-based, header excluded)

    def __len__(self) -> int:
        return len(self.y)


def encode_features(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Element fractions (columns sorted by symbol), processing and test-type one-hots, temperature."""
    if FORMULA not in frame.columns:
        raise DataError(f"MPEA file has no {FORMULA!r} column; columns are {', '.join(map(str, frame.columns))}")
    parsed = [parse_formula(f, row) for row, f in zip(frame.index, frame[FORMULA])]
    elements = sorted({e for p in parsed for e in p})
    fractions = np.array([[p.get(e, 0.0) for e in elements] for p in parsed], dtype=np.float64).reshape(len(frame), -1)
    blocks, names = [fractions], [f"frac_{e}" for e in elements]
    for column, prefix in ((PROCESSING, "process"), (TEST_TYPE, "test")):
        if column in frame.columns:
            values = frame[column].astype("string")
            levels = sorted(v for v in values.dropna().unique())
            blocks.append(
                np.stack([(values == level).fillna(False).to_numpy(bool) for level in levels], axis=1).astype(
                    np.float64
                )
                if levels
                else np.zeros((len(frame), 0))
            )
            names += [f"{prefix}_{level}" for level in levels]
    if TEMPERATURE in frame.columns:
        temperature = pd.to_numeric(frame[TEMPERATURE], errors="coerce").fillna(ROOM_TEMPERATURE).to_numpy(np.float64)
        blocks.append(temperature[:, None])
        names.append("test_temperature_C")
    return np.concatenate(blocks, axis=1).astype(np.float32), names


def read_mpea(data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The raw CSV as a DataFrame (index = 0-based row number)."""
    path = require_file("mpea", "MPEA_dataset.csv", data_dir)
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; download MPEA_dataset.csv again") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot parse as a UTF-8 CSV ({reason}); download MPEA_dataset.csv again") from exc


def load_mpea(
    target: str = "phase", data_dir: str | os.PathLike[str] | None = None, frame: pd.DataFrame | None = None
) -> MPEATable:
    """Features and one target (``phase`` or ``yield_strength``), rows without the target dropped.

    The feature columns come from the rows kept (elements that appear only in dropped rows are
    left out). Pass ``frame`` to encode an already-read table.
    """
    if target not in TARGETS:
        raise DataError(f"MPEA target {target!r} is unknown; use one of {', '.join(TARGETS)}")
    frame = read_mpea(data_dir) if frame is None else frame
    column = TARGETS[target]
    if column not in frame.columns:
        raise DataError(f"MPEA file has no {column!r} column; columns are {', '.join(map(str, frame.columns))}")
    if target == "phase":
        labels = frame[column].astype("string").str.strip()
        keep = labels.notna() & (labels != "")
        kept = frame[keep.to_numpy(bool)]
        labels = labels[keep.to_numpy(bool)]
        unknown = sorted(set(labels) - set(PHASE_CLASSES))
        if unknown:
            raise DataError(f"MPEA {column!r} has unexpected value(s) {unknown}; expected {', '.join(PHASE_CLASSES)}")
        y = np.array([PHASE_CLASSES.index(v) for v in labels], dtype=np.int64)
        classes: tuple[str, ...] | None = PHASE_CLASSES
    else:
        values = pd.to_numeric(frame[column], errors="coerce")
        infinite = np.isinf(values.to_numpy(np.float64))
        if infinite.any():
            row = frame.index[int(infinite.argmax())]
            raise DataError(f"MPEA row {row}: {column!r} is infinite; fix the value or leave it empty to drop the row")
        keep = values.notna().to_numpy(bool)
        kept = frame[keep]
        y = values[keep].to_numpy(np.float32)
        classes = None
    x, names = encode_features(kept)
    return MPEATable(x, y, names, target, classes, kept.index.to_numpy())
