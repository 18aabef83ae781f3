"""The package layout: no import cycle, lower layers never import upper ones, HTTP stays in
``api``, and the benchmark is not part of the installed package."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reconciler"

# What each part of the package may import from ``reconciler`` (itself always allowed).
LEAVES = {"reconciler", "reconciler.errors", "reconciler.model", "reconciler.integrations"}
ALLOWED: dict[str, set[str]] = {
    "reconciler.errors": set(),
    "reconciler.model": set(),
    "reconciler.integrations": set(),
    "reconciler.progress": set(),
    "reconciler.manifest": LEAVES,
    "reconciler.plan": LEAVES,
    "reconciler.api": LEAVES | {"reconciler.progress"},
    "reconciler.render": LEAVES | {"reconciler.plan"},
    "reconciler.verify": LEAVES,
    "reconciler.apply": LEAVES | {"reconciler.api", "reconciler.plan", "reconciler.render"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_modules() -> Iterator[tuple[str, Path]]:
    """Every module of the product (the emulator is a separate program with its own rules)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if "emulator" not in path.relative_to(PACKAGE).parts:
            yield module_name(path), path


def imports_of(name: str, path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (lazy imports count too)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = dict(product_modules())
    return {
        name: {m for m in imports_of(name, path) if m in modules and m != name}
        for name, path in modules.items()
    }


def part_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_the_product_has_no_import_cycle() -> None:
    edges = graph()
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                pytest.fail("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert len(edges) > 30, "the walk found the package's modules"


def test_the_cycle_check_would_see_a_cycle() -> None:
    edges = graph()
    assert "reconciler.verify.base" in edges["reconciler.verify.redis_store"]
    assert "reconciler.verify.redis_store" in edges["reconciler.verify.verifier"]


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_lower_layers_never_import_upper_ones(part: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        if part_of(module) == part
        for target in targets
        if part_of(target) != part and part_of(target) not in ALLOWED[part]
    )
    assert wrong == []


def test_nothing_but_the_command_line_imports_it() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        if part_of(module) not in ("reconciler.cli", "reconciler.__main__")
        for target in targets
        if part_of(target) == "reconciler.cli"
    ]
    assert wrong == []


def test_only_the_api_package_imports_httpx() -> None:
    users = sorted(
        name
        for name, path in product_modules()
        if any(m == "httpx" or m.startswith("httpx.") for m in imports_of(name, path))
    )
    assert users == ["reconciler.api.client", "reconciler.api.keepalive"]


def test_every_module_opens_with_a_docstring_and_stays_small() -> None:
    for name, path in product_modules():
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{name} has no module docstring"
        assert len(path.read_text().splitlines()) <= 410, f"{name} is too long"


def test_the_benchmark_is_not_in_the_installed_package() -> None:
    assert importlib.util.find_spec("reconciler.bench") is None
    assert not list(PACKAGE.rglob("bench*.py"))
    assert (ROOT / "benchmarks" / "__main__.py").exists()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"]["packages"]["find"]["include"] == ["reconciler*"]


def test_no_function_is_over_60_lines_without_a_reason_beside_it() -> None:
    long = []
    benchmark = [(module_name(p), p) for p in sorted((ROOT / "benchmarks").glob("*.py"))]
    for name, path in [*product_modules(), *benchmark]:
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > 60 and "long:" not in lines[node.lineno - 1]:
                    long.append(f"{name}.{node.name} ({size} lines)")
    assert long == []


def test_help_imports_no_command_module_and_no_http_client() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from reconciler.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
        "loaded = [m for m in sys.modules if m.startswith('reconciler.cli.commands.')]\n"
        "print(sorted(loaded), 'httpx' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['reconciler.cli.commands.base'] False"


def test_the_journal_names_paths_without_the_http_client() -> None:
    edges = graph()
    assert "reconciler.api.routes" in edges["reconciler.apply.journal"]
    assert "reconciler.api.client" not in edges["reconciler.apply.journal"]
