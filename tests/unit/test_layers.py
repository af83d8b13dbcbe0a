"""The package floors (docs/architecture.md, "Packages and floors"), read from the source.

Every import is counted, at module level or inside a function: a function-level import
hides a dependency from the reader, not from this test. Only ``if TYPE_CHECKING:`` imports,
which never run, are left out of the circle check (they still count for the floors).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOOR = {"shoal": 0, "controlplane": 1, "agent": 1, "autoscaler": 1, "shoalctl": 2}
GENERATED = ("shoal.v1",)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    type_only: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def production_modules() -> dict[str, Path]:
    found = {}
    for package in FLOOR:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = module_name(path)
            if not name.startswith(GENERATED):
                found[name] = path
    return found


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def imports_of(name: str, path: Path, known: set[str]) -> list[Edge]:
    """First-party modules ``name`` imports: ``from a import b`` is the module a.b when that
    is a module, else a; ``import a.b`` is a.b."""
    tree = ast.parse(path.read_text(), str(path))
    type_only = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            if target.split(".")[0] in FLOOR or target.split(".")[0] in ("tests", "bench"):
                edges.append(Edge(name, target, node.lineno, node.lineno in type_only))
    return edges


def all_edges() -> list[Edge]:
    modules = production_modules()
    known = set(modules)
    return [e for name, path in modules.items() for e in imports_of(name, path, known)]


def floor_violation(edge: Edge) -> str:
    src, dst = edge.source.split(".")[0], edge.target.split(".")[0]
    if dst in ("tests", "bench"):
        return "production code imports test or bench code"
    if src == dst:
        return ""
    if FLOOR[dst] > FLOOR[src]:
        return f"runs upward (floor {FLOOR[src]} -> floor {FLOOR[dst]})"
    if FLOOR[dst] == FLOOR[src]:
        return "runs sideways between middle packages"
    return ""


def cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        if not e.type_only and e.target != e.source:
            graph.setdefault(e.source, set()).add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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


def folder(module: str) -> str:
    """The controlplane room a module stands in: its subpackage (``controlplane.ecs.elbv2.xml``
    is in ``ecs``) or, for a top-level module, the module itself (``state``); "" outside."""
    parts = module.split(".")
    return parts[1] if parts[0] == "controlplane" and len(parts) > 1 else ""


def folder_edges(edges: list[Edge]) -> list[Edge]:
    """The imports between controlplane's folders: a reader who opens ``ecs/`` should never
    find it importing a folder that imports ``ecs/`` back, even when no module circle closes."""
    return [Edge(a, b, e.line, e.type_only) for e in edges
            if (a := folder(e.source)) and (b := folder(e.target)) and a != b]


def test_every_package_states_its_floor():
    for package in FLOOR:
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text())) or ""
        assert "floor" in doc.lower(), f"{package}/__init__.py: say which floor the package is on"


def test_imports_run_downward_only():
    edges = all_edges()
    # The scan reads every package: an empty or partial scan would pass vacuously.
    assert {e.source.split(".")[0] for e in edges} == set(FLOOR), "a package's imports were not read"
    assert ("controlplane.server", "controlplane.api.operator") in {(e.source, e.target) for e in edges}
    bad = [f"{e.source}:{e.line} imports {e.target}: {why}" for e in edges if (why := floor_violation(e))]
    assert not bad, "\n".join(bad)


def test_no_circles_between_modules():
    assert cycles(all_edges()) == []


def test_controlplane_folders_import_one_way():
    edges = folder_edges(all_edges())
    pairs = {(e.source, e.target) for e in edges}
    # A scan that missed the folders would pass vacuously.
    assert {("ecs", "api"), ("api", "scheduler"), ("server", "registry")} <= pairs
    found = cycles(edges)
    assert found == [], "controlplane folders importing each other (move the wiring up or the shared part down): " \
        + "; ".join(" <-> ".join(c) for c in found)


# ---- the checks themselves, on made-up edges: they can fail ------------------------------------

@pytest.mark.parametrize(("source", "target", "verdict"), [
    ("controlplane.api.nodes", "shoal.store.base", ""),
    ("shoalctl.cli.main", "controlplane.server", ""),
    ("shoal.security.pki", "controlplane.state", "upward"),
    ("controlplane.api.scaling", "autoscaler.policies", "sideways"),
    ("autoscaler.main", "shoalctl.local.procs", "upward"),
    ("agent.main", "tests.fakegateway", "test or bench"),
])
def test_floor_rule(source, target, verdict):
    why = floor_violation(Edge(source, target, 1, False))
    assert (verdict in why) if verdict else why == ""


def test_circle_found_through_a_function_level_import(tmp_path):
    edges = [Edge("agent.logs", "agent.runtime", 3, False), Edge("agent.runtime", "agent.volumes", 9, False),
             Edge("agent.volumes", "agent.logs", 40, False), Edge("agent.main", "agent.logs", 2, False)]
    assert cycles(edges) == [["agent.logs", "agent.runtime", "agent.volumes"]]
    assert cycles([*edges[:2], Edge("agent.volumes", "agent.logs", 40, True)]) == []


def test_folder_circle_found_where_no_module_circle_closes():
    # The loop the role catalogue once made: iam/catalogue.py read the gateways' actions while
    # ecs/access.py judged requests with iam/policy.py.
    edges = [Edge("controlplane.iam.catalogue", "controlplane.ecs.ecr", 7, False),
             Edge("controlplane.ecs.access", "controlplane.iam.policy", 12, False),
             Edge("controlplane.server", "controlplane.iam.catalogue", 55, False)]
    assert cycles(edges) == []
    assert cycles(folder_edges(edges)) == [["ecs", "iam"]]
    assert cycles(folder_edges([edges[0], edges[2]])) == []


def test_function_level_imports_are_read(tmp_path, monkeypatch):
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from controlplane import server\n")
    edges = imports_of("shoal.mod", source, {"controlplane.server"})
    assert [(e.target, floor_violation(e) != "") for e in edges] == [("controlplane.server", True)]
