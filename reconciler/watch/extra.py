"""The ``reconciler[watch]`` extra: metrics need ``prometheus-client``, imported only here.

``new_metrics`` fails with a ``ConfigError`` that names the extra when the package is missing,
instead of a traceback; ``write_drift_metrics`` is ``drift --metrics-file``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from reconciler.errors import ConfigError
from reconciler.plan.changes import Plan

if TYPE_CHECKING:
    from reconciler.watch.metrics import Metrics

EXTRA_HINT = "pip install 'reconciler[watch]'"


def new_metrics() -> Metrics:
    """A fresh ``Metrics`` (its own registry), or a clear error without the extra."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"metrics need the prometheus-client package: {EXTRA_HINT}"
            " (the reconciler[watch] extra)"
        ) from None
    from reconciler.watch.metrics import Metrics

    return Metrics()


def write_drift_metrics(path: str, plan: Plan, *, duration: float) -> None:
    """``drift --metrics-file``: the store gauges of ``plan`` for node_exporter, atomically."""
    metrics = new_metrics()
    metrics.record_plan(plan)
    metrics.record_run(duration=duration, ok=True, finished_at=time.time())
    metrics.write_textfile(path)
