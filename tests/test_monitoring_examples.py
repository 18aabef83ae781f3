"""The monitoring examples: alert rules that query metrics reconciler really exports, and a
Kubernetes Deployment whose command line parses and whose probes hit the watch endpoints."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli.main import build_parser
from reconciler.watch.loop import parse_listen
from reconciler.watch.metrics import Metrics

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ALERTS = EXAMPLES / "monitoring" / "alerts.yml"
DEPLOYMENT = EXAMPLES / "kubernetes" / "deployment.yaml"


def exported_names() -> set[str]:
    """Every sample name the metrics registry can expose (``_total``, ``_bucket``, ...)."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        names.update(f"{family.name}{suffix}" for suffix in ("_total", "_bucket", "_count", "_sum"))
    return names


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_alert_queries_only_metrics_reconciler_exports() -> None:
    exported = exported_names()
    for rule in rules():
        used = set(re.findall(r"\breconciler_[a-z_]+", rule["expr"]))
        assert used, f"{rule['alert']} queries no reconciler metric"
        assert used <= exported, f"{rule['alert']}: unknown {sorted(used - exported)}"
        assert rule["labels"]["severity"] and rule["annotations"]["summary"]


def test_the_alerts_cover_drift_for_15_minutes_health_and_missed_runs() -> None:
    by_metric = {re.findall(r"reconciler_[a-z_]+", r["expr"])[0]: r for r in rules()}
    assert by_metric["reconciler_store_drift"]["for"] == "15m"
    assert "== 0" in by_metric["reconciler_store_healthy"]["expr"]
    missed = [r for r in rules() if "time() -" in r["expr"]]
    assert missed and "3 * 300" in missed[0]["expr"]  # three default intervals


def test_promtool_accepts_the_rules_when_it_is_installed() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed; the rules were checked against the metric names")
    result = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_deployment_runs_watch_with_the_token_from_a_secret_and_probes_it() -> None:
    deployment = yaml.safe_load(DEPLOYMENT.read_text(encoding="utf-8"))
    assert deployment["kind"] == "Deployment"
    pod = deployment["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "reconciler"]
    assert container["image"].startswith("reconciler")
    args = build_parser().parse_args(container["args"])  # ENTRYPOINT is `reconciler`
    assert args.command == "watch" and not args.allow_delete
    _, port = parse_listen(args.listen)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == port
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    env = {e["name"]: e for e in container["env"]}
    assert env["LAUNCHDARKLY_ACCESS_TOKEN"]["valueFrom"]["secretKeyRef"]["name"]
    assert "value" not in env["LAUNCHDARKLY_ACCESS_TOKEN"]


def test_the_deployment_reads_the_manifests_a_git_sync_sidecar_keeps_current() -> None:
    pod = yaml.safe_load(DEPLOYMENT.read_text(encoding="utf-8"))["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    sync = containers["git-sync"]
    sync_env = {e["name"]: e["value"] for e in sync["env"]}
    root = f"{sync_env['GITSYNC_ROOT']}/{sync_env['GITSYNC_LINK']}"
    assert containers["reconciler"]["args"][1].startswith(root + "/")
    mounts = {m["name"]: m["mountPath"] for m in containers["reconciler"]["volumeMounts"]}
    assert mounts["manifests"] == sync_env["GITSYNC_ROOT"]
    assert {v["name"] for v in pod["volumes"]} >= {"manifests"}
