"""The architecture in the README holds: each part of lamina imports only from the layers below it."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "lamina"

# the README's layers, bottom to top
LAYERS = [
    {"dtypes", "random", "cuda", "backends", "threads"},
    {"autograd", "tensor", "tensor_math", "factories"},
    {"kernels"},
    {"ops"},
    {"nn", "optim"},
    {"data", "datasets", "metrics", "serialization", "utils"},
    {"training", "callbacks"},
    {"viz", "distributed"},
    {"sklearn"},
    {"tune"},
    {"plot", "cli"},
]
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}
# tensor.py's methods call the ops: it imports them at its end (see tensor.py); fit(distributed=True) imports
# lamina.distributed, which is built on training's callbacks, when it is asked for (see training/loop.py)
EXCEPTIONS = {("tensor", "ops"), ("training", "distributed")}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "lamina":
            parts = node.module.split(".")
            if len(parts) > 1:
                yield parts[1]
            else:  # from lamina import nn, optim
                yield from (a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("lamina."):
                    yield a.name.split(".")[1]


def test_every_import_points_down():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.name == "__init__.py" and len(rel.parts) == 1:
            continue  # the package's front door re-exports from every layer
        part = rel.parts[0].removesuffix(".py")
        assert part in RANK, f"{rel}: not in a layer of the README's architecture"
        for target in _imports(path):
            if target not in RANK or target == part or (part, target) in EXCEPTIONS:
                continue
            if RANK[target] > RANK[part] or (RANK[target] == RANK[part] == RANK["nn"]):
                wrong.append(f"{rel} imports lamina.{target}")
    assert not wrong, "imports against the architecture:\n" + "\n".join(wrong)


def test_no_source_file_is_over_600_lines():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 600}
    assert not long, long
