"""The layers read top-down: reid (the model and its contracts) <- pipeline <- train, and no module
imports itself back through others. Every import counts, also those inside functions."""

import ast
from pathlib import Path

from tests.conftest import REPOSITORY_ROOT

PACKAGES = ("reid", "pipeline", "train")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPOSITORY_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_imports() -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from a.b import c`` counts a.b.c when that is a module)."""
    modules = {module_name(path): path for package in PACKAGES for path in (REPOSITORY_ROOT / package).rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        imported = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
            else:
                continue
            imported |= {target for target in targets if target in modules and target != name}
        graph[name] = imported
    return graph


def test_pipeline_never_imports_train_and_reid_imports_neither():
    offending = [(module, target) for module, targets in project_imports().items() for target in targets
                 if (module.startswith("pipeline") and target.startswith("train"))
                 or (module.startswith("reid") and target.startswith(("pipeline", "train")))]
    assert not offending, offending


def test_no_import_circle():
    graph = project_imports()
    # Tarjan's strongly connected components; a component of two or more modules is a circle.
    index, low, on_stack, stack, circles, counter = {}, {}, set(), [], [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not circles, circles


def test_the_walk_sees_imports_inside_functions():
    graph = project_imports()
    assert "train.datasets" in graph["train.demo_model"]  # imported inside ensure_model
