"""MPEA: formula parsing, encoding, and the real file."""

import numpy as np
import pandas as pd
import pytest

from mlpzoo.data.mpea import PHASE, PHASE_CLASSES, YIELD_STRENGTH, encode_features, load_mpea, parse_formula
from mlpzoo.errors import DataError


def test_parse_spaced_formula():
    got = parse_formula("Al0.25 Co1 Fe1 Ni1")
    assert got == pytest.approx({"Al": 0.25 / 3.25, "Co": 1 / 3.25, "Fe": 1 / 3.25, "Ni": 1 / 3.25})
    assert sum(got.values()) == pytest.approx(1.0)


def test_parse_implicit_ones_and_repeats():
    assert parse_formula("AlCoCrFeNi") == pytest.approx({e: 0.2 for e in ("Al", "Co", "Cr", "Fe", "Ni")})
    assert parse_formula("Al0.5CoCr") == pytest.approx({"Al": 0.2, "Co": 0.4, "Cr": 0.4})
    assert parse_formula("Co1 Co1 Ni2") == pytest.approx({"Co": 0.5, "Ni": 0.5})


@pytest.mark.parametrize("formula,token", [("Al0.25 Xx1", "Xx1"), ("Al1 Co-1", "-1"), ("al1 Co1", "al1")])
def test_malformed_formula(formula, token):
    with pytest.raises(DataError) as err:
        parse_formula(formula, row=12)
    message = str(err.value)
    assert "row 12" in message and repr(token) in message and "\n" not in message


def test_encode_small_frame():
    frame = pd.DataFrame(
        {
            "FORMULA": ["Al1 Co1", "Co1 Ni3"],
            PHASE: ["BCC", "FCC"],
            YIELD_STRENGTH: [100.0, None],
            "PROPERTY: Processing method": ["CAST", None],
            "PROPERTY: Test temperature ($^\\circ$C)": [None, 600.0],
        }
    )
    x, names = encode_features(frame)
    assert names == ["frac_Al", "frac_Co", "frac_Ni", "process_CAST", "test_temperature_C"]
    assert np.allclose(x, [[0.5, 0.5, 0, 1, 25], [0, 0.25, 0.75, 0, 600]])
    ys = load_mpea("yield_strength", frame=frame)
    assert len(ys) == 1 and ys.y[0] == 100.0 and ys.rows.tolist() == [0]
    with pytest.raises(DataError):
        load_mpea("hardness", frame=frame)


def test_real_file(need_data):
    root = need_data("mpea")
    phase = load_mpea("phase", data_dir=root)
    assert len(phase) == 1545 and phase.classes == PHASE_CLASSES
    assert np.bincount(phase.y).tolist() == [468, 265, 812]
    fractions = phase.x[:, [i for i, n in enumerate(phase.feature_names) if n.startswith("frac_")]]
    assert np.allclose(fractions.sum(1), 1.0, atol=1e-5)
    ys = load_mpea("yield_strength", data_dir=root)
    assert len(ys) == 1067 and np.isfinite(ys.y).all() and ys.y.min() > 0
    assert "test_temperature_C" in ys.feature_names and np.isfinite(ys.x).all()
