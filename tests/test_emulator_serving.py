"""The emulator's HTTP server and switches: keep-alive, dropped connections, list with config,
LaunchDarkly-shaped conflict messages, and the ``reconciler emulator`` command's own options."""

from __future__ import annotations

import argparse
import io
import socket
import sys
from pathlib import Path

import httpx
import pytest
from conftest import TOKEN

from reconciler.emulator import API_ROOT, EmulatorServer, FaultConfig
from reconciler.emulator.cli import add_arguments, main

PROD_REDIS = f"{API_ROOT}/payments/production/redis"
HOST = {"host": "redis.internal", "password": "supersecret123"}


def test_requests_on_one_client_share_one_kept_alive_connection(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    for _ in range(3):
        assert api.get(API_ROOT).status_code == 200
    assert api.post(PROD_REDIS, json={"config": HOST}).status_code == 201
    clients = {r.client for r in emulator.state.requests}
    assert len(emulator.state.requests) == 4 and len(clients) == 1
    assert api.get(API_ROOT).headers.get("Connection", "").lower() != "close"


def test_a_client_asking_to_close_gets_its_connection_closed(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    for _ in range(2):
        response = api.get(API_ROOT, headers={"Connection": "close"})
        assert response.headers["Connection"] == "close"
    assert len({r.client for r in emulator.state.requests}) == 2


def test_a_dropped_connection_fails_only_that_request_and_the_next_one_reconnects(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    assert api.get(API_ROOT).status_code == 200
    emulator.faults.fail_next(1, method="GET", drop=True)
    with pytest.raises(httpx.TransportError):
        api.get(API_ROOT)
    assert api.get(API_ROOT).status_code == 200
    clients = [r.client for r in emulator.state.requests]
    assert clients[0] == clients[1] != clients[2]  # the drop ended the kept-alive connection
    emulator.faults.configure(FaultConfig(drop_rate=1.0))
    with pytest.raises(httpx.TransportError):
        api.get(API_ROOT)


def test_a_pipelined_body_is_not_mistaken_for_the_next_request(emulator: EmulatorServer) -> None:
    body = b'{"config": {"host": "h"}}'
    head = (
        f"POST {PROD_REDIS} HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\n"
        f"LD-API-Version: beta\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    second = f"GET {API_ROOT} HTTP/1.1\r\nHost: x\r\nLD-API-Version: beta\r\n".encode()
    second += f"Authorization: {TOKEN}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection((emulator.host, emulator.port), timeout=10) as sock:
        sock.sendall(head + body + second)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.count(b"HTTP/1.1 ") == 2
    assert answer.startswith(b"HTTP/1.1 201") and b"HTTP/1.1 200" in answer


def test_stopping_the_emulator_closes_idle_kept_alive_connections(
    emulator: EmulatorServer,
) -> None:
    with socket.create_connection((emulator.host, emulator.port), timeout=10) as sock:
        sock.sendall(f"GET {API_ROOT} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 401")
        emulator.stop()
        while chunk := sock.recv(65536):  # ends: closed by the server (else a timeout)
            answer += chunk
        assert answer.endswith(b"}")


def test_list_items_carry_masked_config_only_in_list_config_mode(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    assert api.post(PROD_REDIS, json={"config": HOST}).status_code == 201
    assert "config" not in api.get(API_ROOT).json()["items"][0]
    settings = api.patch("/__emulator/settings", json={"listConfig": True})
    assert settings.json()["listConfig"] is True
    item = api.get(API_ROOT).json()["items"][0]
    assert item["config"]["password"] == "sup********123"
    assert api.patch("/__emulator/settings", json={"listConfig": "yes"}).status_code == 400


def test_the_mask_style_is_a_side_door_setting(api: httpx.Client) -> None:
    store = api.post(PROD_REDIS, json={"config": {**HOST, "password": "a-much-longer-secret"}})
    path = f"{PROD_REDIS}/{store.json()['_id']}"
    assert api.get(path).json()["config"]["password"] == "a-m********ret"
    assert api.patch("/__emulator/settings", json={"maskStyle": "per-char"}).is_success
    assert api.get(path).json()["config"]["password"] == "a-m**************ret"
    assert api.patch("/__emulator/settings", json={"maskStyle": "none"}).status_code == 400


def test_a_failed_version_test_is_a_launchdarkly_shaped_sentence(api: httpx.Client) -> None:
    store = api.post(PROD_REDIS, json={"config": HOST}).json()
    stale = [{"op": "test", "path": "/version", "value": 99}]
    response = api.patch(f"{PROD_REDIS}/{store['_id']}", json=stale)
    assert response.status_code == 409
    message = response.json()["message"]
    assert "/version" in message and message.endswith(".")
    assert not any(mark in message for mark in ("{", "'", "!="))


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_command_accepts_the_new_switches() -> None:
    args = parse("--mask-style", "per-char", "--list-config")
    assert (args.mask_style, args.list_config) == ("per-char", True)
    defaults = parse()
    assert (defaults.mask_style, defaults.list_config) == (None, None)
    with pytest.raises(SystemExit):
        parse("--mask-style", "stars")


def test_a_bad_seed_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("maskStyle: stars\nprojects: x\n", "utf-8")
    err = io.StringIO()
    assert main(parse("--port", "0", "--seed", str(seed)), err) == 1
    assert err.getvalue().startswith(f"error: invalid emulator seed {seed}:")
    assert "maskStyle" in err.getvalue() and "Traceback" not in err.getvalue()


def test_the_product_cli_reaches_the_emulator_command(tmp_path: Path) -> None:
    from reconciler.cli.main import main as product_main

    seed = tmp_path / "seed.json"
    seed.write_text("[", "utf-8")
    err = io.StringIO()
    code = product_main(["emulator", "--seed", str(seed)], stdout=io.StringIO(), stderr=err)
    assert code == 1 and "not valid YAML/JSON" in err.getvalue()
    assert sys.modules.get("reconciler.emulator.cli") is not None
