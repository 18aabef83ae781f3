"""Escaping live values: the pure functions, then forged names and messages through the real CLI.

The forged values are seeded through the emulator's side door (``state.create_store`` and
``set_status``), read back by the CLI over HTTP, and rendered in every format.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from cli_helpers import EXTERNAL_ID, PASSWORD, PAYMENTS, cli, write
from raw_server import RawServer, answer

from reconciler import escape
from reconciler.cli.main import main
from reconciler.emulator import EmulatorServer
from reconciler.model import DEFAULT_OWNER_TAG

SECRETS = {"REDIS_PAYMENTS_PASSWORD": PASSWORD, "LD_EXTERNAL_ID": EXTERNAL_ID}
FORGED = "x\n  + forged/prod/redis (create)\x1b[0m"
HTML = "a</details><details><summary>b | c ` d ``` e"
MESSAGE = "boom\r\nNo changes. LaunchDarkly matches the manifests.\x1b[2K\u202e</details>"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain name", "plain name"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("nul\x00 del\x7f c1\x9b", "nul\\x00 del\\x7f c1\\x9b"),
        ("bidi \u202eevil\u202c \u2066iso\u2069", "bidi \\u202eevil\\u202c \\u2066iso\\u2069"),
        ("zero\u200bwidth\ufeff line\u2028sep", "zero\\u200bwidth\\ufeff line\\u2028sep"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
        ("ünïcödé ✓ 日本", "ünïcödé ✓ 日本"),
    ],
)
def test_text_shows_control_and_invisible_characters_as_escapes(raw: str, shown: str) -> None:
    assert escape.text(raw) == shown


def test_markdown_neutralises_html_and_markdown_syntax() -> None:
    assert escape.markdown("<b>&amp;</b>") == "&lt;b&gt;&amp;amp;&lt;/b&gt;"
    assert escape.markdown("a|b `c` *d* _e_ [f](g) ~h~ $i$ #j") == (
        "a\\|b \\`c\\` \\*d\\* \\_e\\_ \\[f\\]\\(g\\) \\~h\\~ \\$i\\$ \\#j"
    )
    assert escape.markdown("x\ny") == "x\\\\ny"
    assert escape.markdown_code("p/e/redis/<x>") == "<code>p/e/redis/&lt;x&gt;</code>"
    assert escape.markdown_code("p/e/redis") == "`p/e/redis`"
    assert escape.markdown_code("a`b|c") == "<code>a\\`b\\|c</code>"


def test_code_block_text_cannot_close_the_fence_or_the_details() -> None:
    shown = escape.in_code_block("  + ok\n  ? ```</details>\x1b")
    assert shown == "  + ok\n  ? \\x60\\x60\\x60\\x3c/details>\\x1b"


def test_lines_keeps_line_breaks_but_escapes_each_line() -> None:
    assert escape.lines("one\x1b[2K\ntwo\u202e") == "one\\x1b[2K\ntwo\\u202e"


def seed_forged(emulator: EmulatorServer, name: str, *, owned: bool) -> None:
    tags = [f"team:{name}", DEFAULT_OWNER_TAG] if owned else [f"team:{name}"]
    body = {"name": name, "on": True, "tags": tags, "config": {"host": "h", "port": "6379"}}
    store = emulator.state.create_store("payments", "staging", "redis", body)
    error = {"statusCode": 500, "message": MESSAGE, "timestamp": 1}
    emulator.state.set_status(store.id, {"available": False, "errors": [error]})


@pytest.mark.parametrize("owned", [True, False], ids=["owned-delete", "unmanaged"])
@pytest.mark.parametrize("command", ["plan", "drift"])
def test_a_forged_live_name_cannot_forge_a_line_of_the_text_plan(
    emulator: EmulatorServer, tmp_path: Path, owned: bool, command: str
) -> None:
    seed_forged(emulator, FORGED, owned=owned)
    result = cli(emulator, command, write(tmp_path, PAYMENTS), "--no-color")
    refused = owned and command == "plan"  # the delete needs --allow-delete: preflight refuses
    assert result.code in ((1,) if refused else (0, 2)), result.all
    lines = result.out.splitlines()
    creates = [line for line in lines if line.startswith("  + ")]
    assert len(creates) == 2  # the two declared stores, nothing forged
    assert all("forged" not in line for line in creates)
    assert not any(line.startswith("No changes") for line in lines)
    assert "\x1b" not in result.out + result.err
    assert "\u202e" not in result.out + result.err
    if owned:  # shown as the deleted store's name
        assert 'x\\n  + forged/prod/redis (create)\\u001b[0m"' in result.out
    assert "boom\\r\\nNo changes." in result.out  # the _status message, escaped


def test_forged_names_in_addresses_stay_on_their_line(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    for store in range(2):  # two stores in one slot: addresses then carry the names
        body = {"name": f"{FORGED}{store}", "config": {"host": "h", "port": "6379"}}
        emulator.state.create_store("payments", "production", "redis", body)
    result = cli(emulator, "plan", write(tmp_path, PAYMENTS), "--no-color")
    assert result.code == 0, result.all
    lines = result.out.splitlines()
    assert [line for line in lines if line.startswith("  + ")] == [
        "  + payments/production/redis/Payments production  (create)",
        "  + payments/staging/dynamodb  (create)",
    ]
    assert "\x1b" not in result.out
    unmanaged = [line for line in lines if line.startswith("  ? ")]
    assert len(unmanaged) == 2
    assert all("redis/x\\n  + forged/prod/redis (create)\\x1b[0m" in u for u in unmanaged)


def test_a_forged_name_cannot_break_the_markdown_plan(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    seed_forged(emulator, HTML, owned=True)
    seed_forged(emulator, FORGED, owned=False)
    result = cli(emulator, "plan", write(tmp_path, PAYMENTS), "--format", "markdown")
    assert result.code == 1, result.all  # refused (a delete without --allow-delete), shown whole
    markdown = result.out
    assert ":no_entry: **Refused" in markdown
    assert markdown.count("<details>") == markdown.count("</details>") == 3  # one per store
    assert markdown.count("<summary>") == markdown.count("</summary>") == 3
    assert markdown.count("```diff") == 3 and markdown.count("```") == 6
    assert "\x1b" not in markdown and "\u202e" not in markdown
    for row in (line for line in markdown.splitlines() if line.startswith("| ")):
        assert len(re.findall(r"(?<!\\)\|", row)) in (5, 6), row  # 4 or 5 columns, no more
    assert "a&lt;/details&gt;&lt;details&gt;&lt;summary&gt;b \\| c \\` d" in markdown


def test_a_forged_error_message_from_launchdarkly_is_one_escaped_line(tmp_path: Path) -> None:
    body = json.dumps({"code": "bad\x1b[2K", "message": MESSAGE}).encode()
    with RawServer(answer("400 Bad Request", body)) as server:
        err = io.StringIO()
        env = {"LAUNCHDARKLY_ACCESS_TOKEN": "api-x", "LAUNCHDARKLY_API_HOST": server.url}
        argv = ["plan", write(tmp_path, PAYMENTS), "--max-attempts", "1"]
        code = main(argv, stdout=io.StringIO(), stderr=err, env=env | SECRETS)
    assert code == 1
    assert len(err.getvalue().splitlines()) == 1, err.getvalue()
    assert "\x1b" not in err.getvalue() and "\u202e" not in err.getvalue()
    assert "HTTP 400 bad\\x1b[2K: boom\\r\\nNo changes." in err.getvalue()


def test_the_unhealthy_list_of_drift_health_is_escaped(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    for store in range(2):  # two stores in one slot: addresses carry the forged names
        body = {"name": f"{FORGED}{store}", "on": True, "config": {"host": "h", "port": "6379"}}
        created = emulator.state.create_store("payments", "production", "redis", body)
        emulator.state.set_status(created.id, {"available": False})
    result = cli(emulator, "drift", write(tmp_path, PAYMENTS), "--health")
    assert result.code == 2, result.all
    unhealthy = [line for line in result.out.splitlines() if line.startswith("Unhealthy: ")]
    assert len(unhealthy) == 1
    assert "\x1b" not in result.out
    assert not any(line.startswith("  + forged") for line in result.out.splitlines())
