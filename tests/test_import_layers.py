"""No import cycle among our modules, and the layers DESIGN.md agrees on.

Every ``import`` statement is read from the source (module level and inside functions alike:
a lazy import that closes a loop is still a loop, it only fails later), so the test needs
no import of the code itself and sees what a reader sees.
"""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("analysis", "api", "configs", "flows", "gaitlake", "storage", "tasks")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules that ``name`` imports explicitly (``from a import b`` is ``a.b`` when that is a module)."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        out.update(t for t in targets if t in modules and t != name)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _parent_package_edge(a: str, b: str) -> bool:
    """A package's ``__init__`` importing its own submodules (and they, its siblings) is not a loop
    between rooms: the package is the room."""
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_our_modules():
    graph = _graph()
    assert "tasks.render.session" in graph and "tasks.detections" in graph  # the walk sees the tree
    graph = {a: {b for b in targets if not _parent_package_edge(a, b)} for a, targets in graph.items()}
    assert _cycles(graph) == []


def test_layers_point_one_way():
    """configs and storage import nothing above them; analysis imports nothing of ours but itself;
    tasks never imports flows, api or gaitlake; flows never imports api or gaitlake."""
    above = {"configs": {"storage", "tasks", "flows", "api", "gaitlake"},
             "storage": {"tasks", "flows", "api", "gaitlake", "analysis"},
             "analysis": {"configs", "storage", "tasks", "flows", "api", "gaitlake"},
             "tasks": {"flows", "api", "gaitlake"},
             "flows": {"api", "gaitlake"}}
    wrong = sorted((a, b) for a, targets in _graph().items() for b in targets
                   if b.split(".")[0] in above.get(a.split(".")[0], set()))
    assert wrong == []


#: api/ modules allowed to import ``analysis.engine``: none. The demo's generator, which runs the
#: engine on synthetic keypoints to write ``api/demo/demo_session.json``, is the developer command
#: ``gaitlake/demo_session.py``; the server only reads that file.
API_MODULES_RUNNING_THE_ENGINE: set[str] = set()


def test_api_reads_results_and_never_imports_the_engine():
    """api/ shapes what was written (``analysis.results``' types, the lake's rows); it never runs
    or reaches into the gait engine (issue 22)."""
    wrong = sorted(a for a, targets in _graph().items() if a.split(".")[0] == "api"
                   and "analysis.engine" in targets and a not in API_MODULES_RUNNING_THE_ENGINE)
    assert wrong == []
