"""What a command imports decides how fast it starts: ``validate`` needs no HTTP client, no
JSON Schema validator for a valid file, and no diff library; a plan with no changes to show
needs no diff library either."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("httpx", "jsonschema", "deepdiff")
MANIFEST = """\
project: payments
stores:
  - environment: production
    integrationKey: redis
    name: Payments
    config: {host: redis.internal, port: 6379}
"""


def loaded_after(argv: list[str]) -> dict[str, bool]:
    code = (
        "import sys, contextlib, io\n"
        "from reconciler.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main({argv!r}, env={{}})\n"
        f"print(code, *[m in sys.modules for m in {HEAVY!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    code_, *flags = done.stdout.split()
    assert code_ == "0", done.stdout + done.stderr
    return dict(zip(HEAVY, (flag == "True" for flag in flags), strict=True))


def test_validate_of_a_valid_file_imports_no_http_client_schema_validator_or_diff(
    tmp_path: Path,
) -> None:
    path = tmp_path / "payments.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    assert loaded_after(["validate", str(path)]) == dict.fromkeys(HEAVY, False)


def test_an_invalid_file_still_gets_the_full_validator_and_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "payments.yaml"
    path.write_text(MANIFEST.replace("name: Payments", "name: 42"), encoding="utf-8")
    code = (
        "import sys, io\n"
        "from reconciler.cli.main import main\n"
        "err = io.StringIO()\n"
        f"code = main(['validate', {str(path)!r}], stderr=err, env={{}})\n"
        "print(code, 'jsonschema' in sys.modules, repr(err.getvalue()))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("1 True ")
    assert "payments.yaml:5:11: stores[0].name" in done.stdout
