"""The core install: ``pip install .`` into a fresh virtualenv brings only what validate, plan,
apply, drift and export need (no boto3, botocore, redis, werkzeug, openapi-core, jsonpatch), and
that install plans against the emulator (which runs here, in the dev venv, over HTTP). The
extras are declared as docs/install.md says; ``[dev]`` pulls both of them."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from cli_helpers import env_for

from reconciler.emulator import EmulatorServer

ROOT = Path(__file__).resolve().parents[1]
EXTRA_ONLY = ("boto3", "botocore", "redis", "werkzeug", "openapi_core", "jsonpatch")


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]  # type: ignore[no-any-return]


def requirement_names(requirements: list[str]) -> set[str]:
    return {r.split(">")[0].split("[")[0].split("=")[0].strip().lower() for r in requirements}


def test_the_core_dependencies_are_only_what_the_control_plane_commands_need() -> None:
    project = pyproject()
    core = requirement_names(project["dependencies"])  # type: ignore[arg-type]
    assert core == {"httpx", "certifi", "pyyaml", "jsonschema", "orjson", "deepdiff"}
    extras: dict[str, list[str]] = project["optional-dependencies"]  # type: ignore[assignment]
    assert requirement_names(extras["verify"]) == {"redis", "boto3"}
    assert {"werkzeug", "openapi-core", "jsonpatch"} <= requirement_names(extras["emulator"])
    assert "reconciler[verify,emulator]" in extras["dev"]
    everything = [r for group in extras.values() for r in group] + project["dependencies"]  # type: ignore[operator]
    assert all(">=" in r for r in everything if not r.startswith("reconciler["))
    assert sum(r.startswith("openapi-core") for r in everything) == 1


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("core") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    install = subprocess.run(
        [str(venv / "bin/pip"), "install", "--quiet", "--disable-pip-version-check", str(ROOT)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    return venv / "bin"


def run(
    bin_dir: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [str(bin_dir / argv[0]), *argv[1:]], env={**base, **(env or {})}, cwd=bin_dir.parent,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_the_core_install_has_none_of_the_extras_packages(core_venv: Path) -> None:
    probe = "import importlib.util as u; print(' '.join(m for m in {m!r} if u.find_spec(m)))"
    result = run(core_venv, "python", "-c", probe.format(m=EXTRA_ONLY))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
    where = run(core_venv, "python", "-c", "import reconciler, httpx; print(reconciler.__file__)")
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(core_venv.parent)), (
        "imported the source tree, not the install"
    )


@pytest.mark.slow
def test_the_core_install_runs_help_and_validate(core_venv: Path) -> None:
    helped = run(core_venv, "reconciler", "--help")
    assert helped.returncode == 0 and "plan" in helped.stdout, helped.stderr
    secrets = {"REDIS_PAYMENTS_PASSWORD": "x", "LD_EXTERNAL_ID": "y", "REDIS_SEARCH_PASSWORD": "z"}
    valid = run(core_venv, "reconciler", "validate", str(ROOT / "examples/manifests"), env=secrets)
    assert valid.returncode == 0, valid.stderr
    assert "valid" in valid.stdout


@pytest.mark.slow
def test_the_core_install_plans_against_the_emulator(
    core_venv: Path, emulator: EmulatorServer
) -> None:
    env = env_for(emulator)
    result = run(core_venv, "reconciler", "plan", str(ROOT / "examples/manifests"), env=env)
    assert result.returncode == 0, result.stderr
    assert "payments/production/redis" in result.stdout
    assert "Traceback" not in result.stderr
    assert len(emulator.state.requests) > 0


@pytest.mark.slow
def test_verify_without_its_extra_says_which_extra_to_install(
    core_venv: Path, emulator: EmulatorServer
) -> None:
    env = env_for(emulator)
    result = run(core_venv, "reconciler", "verify", str(ROOT / "examples/manifests"), env=env)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1
    assert "reconciler[verify]" in result.stderr


@pytest.mark.slow
def test_the_emulator_without_its_extra_says_which_extra_to_install(core_venv: Path) -> None:
    result = run(core_venv, "python", "-m", "reconciler", "emulator", "--port", "0")
    assert "Traceback" not in result.stderr
    assert result.returncode == 1
    assert "reconciler[emulator]" in result.stderr
