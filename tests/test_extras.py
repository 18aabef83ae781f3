"""Optional extras (``reconciler.extras``): a command whose extra is missing names the extra to
install and exits 1, without a traceback. The missing package is simulated in a child process
(``sys.modules[name] = None`` makes its import fail, as when it is not installed); the fresh
core-install check is in ``test_packaging``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.errors import EXIT_ERROR, MissingExtraError
from reconciler.extras import EXTRAS, require, require_modules

ROOT = Path(__file__).resolve().parents[1]


def run_without(modules: tuple[str, ...], *argv: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        f"for name in {modules!r}: sys.modules[name] = None\n"
        "from reconciler.cli.main import main\n"
        f"sys.exit(main({list(argv)!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False,
        cwd=ROOT,
    )  # fmt: skip


def test_every_extra_is_installed_in_the_dev_environment() -> None:
    for extra in EXTRAS:
        require(extra)


def test_a_missing_module_names_the_extra_and_how_to_install_it() -> None:
    with pytest.raises(MissingExtraError) as error:
        require_modules(("json", "no_such_module_for_reconciler"), extra="verify", command="verify")
    message = str(error.value)
    assert "reconciler[verify]" in message
    assert "pip install 'reconciler[verify]'" in message
    assert "missing: no_such_module_for_reconciler" in message
    assert error.value.exit_code == EXIT_ERROR


@pytest.mark.parametrize("module", ["boto3", "redis"])
def test_verify_without_its_extra_exits_1_naming_it(module: str) -> None:
    manifest = str(ROOT / "examples/manifests")
    result = run_without((module,), "verify", manifest)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "reconciler[verify]" in result.stderr and f"missing: {module}" in result.stderr


@pytest.mark.parametrize("module", ["werkzeug", "openapi_core", "jsonpatch"])
def test_the_emulator_without_its_extra_exits_1_naming_it(module: str) -> None:
    result = run_without((module,), "emulator", "--port", "0")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "reconciler[emulator]" in result.stderr
