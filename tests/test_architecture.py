"""The layout holds: three layers that each import only the one below, no import cycles, and no
code reaching into another object's private attributes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rnnlab", "dashboard")
WEB_MODULES = ("streamlit", "plotly", "starlette", "tornado")


def project_files() -> list[Path]:
    files = [ROOT / "app.py"]
    for folder in ("rnnlab", "dashboard", "tests", "bench", "scripts"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in the file (relative imports resolved).

    `from package import name` counts as importing package.name when that is a module of the
    project, and as importing the package otherwise.
    """
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    modules = {module_name(p) for p in project_files()}
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules else base)
    return found


def project_graph() -> dict[str, set[str]]:
    files = [ROOT / "app.py"] + [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    modules = {module_name(p): p for p in files}
    return {
        name: {m for m in imported_modules(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def test_the_engine_imports_no_web_framework_while_training_saving_loading_and_sampling(
    tmp_path: Path,
) -> None:
    script = f"""
import sys
import rnnlab
from rnnlab.corpora import builtin_corpus
from rnnlab.schedule import Schedule
text = builtin_corpus("Poems (bundled)").text
trainer = rnnlab.Trainer(text, rnnlab.Config(hidden_size=16, val_fraction=0.1, seed=0))
Schedule(trainer).train(iterations=30)
trainer.save({str(tmp_path / "model.npz")!r})
loaded = rnnlab.Trainer.load({str(tmp_path / "model.npz")!r}, text)
assert len(loaded.sample(50, temperature=0.5)) == 50
print(sorted({{name.split(".")[0] for name in sys.modules}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(eval(result.stdout))  # a printed list of module names
    assert "rnnlab" in loaded and "numpy" in loaded
    assert not loaded & {*WEB_MODULES, "dashboard"}


def test_each_layer_imports_only_the_ones_below_it() -> None:
    for path in project_files():
        name, imports = module_name(path), imported_modules(path)
        tops = {m.split(".")[0] for m in imports}
        if name.startswith("rnnlab"):
            assert not tops & {*WEB_MODULES, "dashboard", "app"}, f"{name} imports {tops}"
        elif name.startswith("dashboard"):
            assert "app" not in tops, f"{name} imports the page"


def test_the_page_imports_only_the_dashboard_streamlit_and_the_standard_library() -> None:
    # The page wires widgets to the dashboard; the engine's numbers reach it through the
    # dashboard (dashboard/page_model.py), never from rnnlab directly.
    tops = {m.split(".")[0] for m in imported_modules(ROOT / "app.py")}
    allowed = {"dashboard", "streamlit", "__future__", *sys.stdlib_module_names}
    assert tops <= allowed, f"app.py imports {sorted(tops - allowed)}"


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module `start` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for imported in graph.get(todo.pop(), ()):
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def test_figures_depend_on_plain_data_not_on_the_session() -> None:
    # The figures draw values; the session's processes, threads and locks are none of theirs.
    graph = project_graph()
    for figures in ("dashboard.figures", "dashboard.insight_figures"):
        below = reachable(graph, figures)
        running = {"dashboard.session", "dashboard.player", "dashboard.comparison"}
        assert not below & running, f"{figures} imports {sorted(below & running)}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """An import cycle in `graph` (module -> modules it imports), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module) :] + [module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            cycle = visit(imported, [*path, module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return None


def test_the_project_has_no_import_cycles() -> None:
    graph = project_graph()
    assert {"rnnlab.trainer", "rnnlab.checkpoint", "dashboard.session", "app"} <= set(graph)
    # The trainer saves through the checkpoint module, which knows only the state value.
    assert "rnnlab.checkpoint" in graph["rnnlab.trainer"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_code_reads_or_writes_another_objects_private_attributes() -> None:
    """`x._name` only where x is self or cls: a class's state is reached through its public
    interface (for a Trainer: state(), load_state(), delta()), tests included."""
    offences = []
    for path in project_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # A module's own private functions (os._exit) are not an object's state.
        modules = {
            (alias.asname or alias.name).split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (
                    isinstance(node.value, ast.Name) and node.value.id in {"self", "cls", *modules}
                )
            ):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
    assert not offences, "\n".join(offences)
