"""The package's import graph follows the layer order of DESIGN.md and has no cycle outside the registry.

layers -> models -> data/tasks -> train/methods/rl -> claims and the command line: an arrow points only
down that list. The test walks every module's imports with ``ast`` (function-level imports included,
since a lazy import is still a dependency).
"""

import ast
from collections import defaultdict
from pathlib import Path

import mlpzoo

PACKAGE = Path(mlpzoo.__file__).parent

# Which top-level parts of mlpzoo each part may import (besides itself). Utilities at the bottom:
# errors (the error types), config (config parsing), measure (parameters, FLOPs), registry (model names).
UTILITIES = {"errors", "config", "measure", "registry"}
ALLOWED = {
    "errors": set(),
    "config": {"errors"},
    "measure": {"errors"},
    "registry": {"errors", "models"},  # the registry imports the model files so that they register
    "layers": {"errors"},
    "models": {"errors", "registry", "layers", "measure", "data.schema"},  # a model reads a schema, never a file
    "data": {"errors", "config"},
    "tasks": {"errors", "data"},
    "train": UTILITIES | {"layers", "models", "data", "tasks"},
    "methods": UTILITIES | {"layers", "models", "data", "tasks", "train"},
    "rl": UTILITIES | {"layers", "models", "data", "tasks", "train"},  # learners and environments, beside methods
}
APPLICATION = None  # claims, cli, bench, export, tune, sklearn, tour, report_runs, the package root: may use everything


def _module_name(path: Path) -> str:
    parts = ("mlpzoo",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    modules = {_module_name(path) for path in PACKAGE.rglob("*.py")}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and node.module
                and node.module.startswith("mlpzoo.")
            ):
                # `from mlpzoo.tasks import metrics` depends on the submodule, not on the package's __init__.
                submodules = {f"{node.module}.{a.name}" for a in node.names} & modules
                graph[name].update(submodules or {node.module})
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name.startswith("mlpzoo."))
    return graph


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _allowed(source: str, target: str) -> bool:
    part, target_part = _part(source), _part(target)
    if part == target_part or part not in ALLOWED:
        return True
    allowed = ALLOWED[part]
    return target_part in allowed or ".".join(target.split(".")[1:3]) in allowed


def test_imports_point_down_the_layers():
    wrong = sorted(
        f"{source} imports {target}"
        for source, targets in _imports().items()
        for target in targets
        if not _allowed(source, target)
    )
    assert not wrong, "imports against the layer order of DESIGN.md:\n" + "\n".join(wrong)


def test_no_import_cycle_outside_the_registry():
    graph = {source: {t for t in targets if t != source} for source, targets in _imports().items()}
    # The registry <-> model files loop is by design: model files register themselves on import.
    for source in list(graph):
        if source.startswith("mlpzoo.registry"):
            graph[source] = {t for t in graph[source] if not t.startswith("mlpzoo.models")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in graph.get(node, ()):
            if state.get(target) == 1:
                cycles.append(
                    " -> ".join(stack[stack.index(target) :] + [target]) if target in stack else f"{node} -> {target}"
                )
            elif target not in state:
                visit(target, stack + [target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checker_sees_a_wrong_import():
    assert not _allowed("mlpzoo.layers.mlp", "mlpzoo.models.ctr")
    assert not _allowed("mlpzoo.models.ctr", "mlpzoo.data.readers")
    assert _allowed("mlpzoo.models.ctr", "mlpzoo.data.schema")
    assert _allowed("mlpzoo.claims.finalmlp", "mlpzoo.train")
