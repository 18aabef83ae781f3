"""The emulator stands on its own: no module of ``reconciler.emulator`` imports the product.

The emulator is the product's test oracle; if it borrowed the product's field table or masking
rule, a bug there would be checked against itself. The test parses every module of the
package (no import is executed) and lists each import of ``reconciler.*`` outside
``reconciler.emulator``, including relative imports that climb out of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import reconciler.emulator

PACKAGE = Path(reconciler.emulator.__file__).parent


def is_product(name: object) -> bool:
    """Whether an imported module name is the product (``reconciler`` but not its emulator)."""
    if not isinstance(name, str) or not (name == "reconciler" or name.startswith("reconciler.")):
        return False
    return not (name == "reconciler.emulator" or name.startswith("reconciler.emulator."))


def product_imports(path: Path) -> list[str]:
    """``file:line: module`` for every import of the product in one source file."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level > 1:  # ``from .. import x`` leaves reconciler.emulator
                names = ["reconciler." + (node.module or "")]
            elif node.level == 0 and node.module:
                names = [node.module]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in (
            "__import__",
            "import_module",
        ):
            names = [a.value for a in node.args[:1] if isinstance(a, ast.Constant)]
        found += [f"{path.name}:{node.lineno}: {name}" for name in names if is_product(name)]
    return found


def test_no_emulator_module_imports_the_product() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) > 10
    assert [hit for module in modules for hit in product_imports(module)] == []


def test_the_import_check_sees_product_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import reconciler.integrations\n"
        "from reconciler.errors import ConfigError\n"
        "from reconciler import verify\n"
        "from .. import plan\n"
        "from reconciler.emulator.rules import invalid\n"
        "from . import state\n",
        encoding="utf-8",
    )
    assert product_imports(sample) == [
        "sample.py:1: reconciler.integrations",
        "sample.py:2: reconciler.errors",
        "sample.py:3: reconciler",
        "sample.py:4: reconciler.",
    ]
