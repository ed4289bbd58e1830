"""Every real-data test skips cleanly without data: the suite collects with an empty data directory, and a
test that asks for the ``need_data`` fixture also calls it (the guard runs before any file is read)."""

import ast
import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent


def _tests_taking_need_data_without_calling_it(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        is_test = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")
        if is_test and "need_data" in {arg.arg for arg in node.args.args}:
            called = {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            if "need_data" not in called:
                found.append(node.name)
    return found


def test_the_check_finds_a_fixture_that_is_never_called():
    source = "def test_a(need_data):\n    load_can()\n\ndef test_b(need_data):\n    need_data('can')\n    load_can()\n"
    assert _tests_taking_need_data_without_calling_it(source) == ["test_a"]


def test_every_test_taking_need_data_calls_it():
    unguarded = [
        f"{path.relative_to(TESTS)}::{name}"
        for path in sorted(TESTS.rglob("test_*.py"))
        for name in _tests_taking_need_data_without_calling_it(path.read_text())
    ]
    assert not unguarded, f"these tests take need_data but never call need_data(NAME): {unguarded}"


def test_suite_collects_without_a_data_directory(tmp_path):
    env = {
        **os.environ,
        "MLPZOO_DATA": str(tmp_path / "empty"),
        "MLPZOO_OFFLINE": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    env.pop("MLPZOO_REQUIRE_DATA", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(TESTS)],
        cwd=TESTS.parent,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "error" not in done.stdout.splitlines()[-1].lower(), done.stdout[-3000:]
    assert not (tmp_path / "empty").exists()  # collecting never creates or fills a data directory


def test_need_data_skips_fashion_mnist_when_its_folder_is_empty(tmp_path, monkeypatch, need_data):
    import pytest

    monkeypatch.setenv("MLPZOO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MLPZOO_FASHION_MNIST", str(tmp_path / "nowhere"))
    monkeypatch.delenv("MLPZOO_REQUIRE_DATA", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Fashion-MNIST not in"):
        need_data("fashion-mnist")
    monkeypatch.setenv("MLPZOO_REQUIRE_DATA", "1")
    with pytest.raises(pytest.fail.Exception, match="MLPZOO_REQUIRE_DATA=1"):
        need_data("fashion-mnist")
