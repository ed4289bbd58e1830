"""``mlpzoo --help`` starts fast: the command line and ``import mlpzoo`` import no torch, numpy or pandas.

Start-up time is measured by what gets imported (in a fresh interpreter), not by the clock.
"""

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "numpy", "pandas", "sklearn", "scipy", "matplotlib", "optuna", "onnx")

PROBE = """
import json, sys
from mlpzoo.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    print("MODULES=" + json.dumps(sorted(sys.modules)))
"""


def _modules_after(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_the_public_api_still_loads_torch_on_first_use():
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys, mlpzoo; mlpzoo.Trainer; print(json.dumps(sorted(sys.modules)))"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "torch" in _heavy(set(json.loads(done.stdout)))  # so the probe's absence of torch below means something


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["papers", "--help"],
        ["reproduce", "--help"],
        ["train", "--help"],
        ["tune", "--help"],
        ["export", "--help"],
        ["report", "--help"],
        ["size", "--help"],
        ["tour", "--help"],
        ["bench", "--help"],
        ["bench", "ctr", "--help"],
        ["--version"],
    ],
)
def test_help_imports_no_heavy_module(args):
    heavy = _heavy(_modules_after(*args))
    assert not heavy, f"mlpzoo {' '.join(args)} imported {heavy[:8]}; import them inside the command instead"


def test_import_mlpzoo_is_light():
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys, mlpzoo; print(json.dumps(sorted(sys.modules)))"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not _heavy(set(json.loads(done.stdout)))
