"""Continuous reconciliation (``reconciler watch``): the loop, one cycle, metrics, endpoints.

``loop`` runs cycles every interval with backoff and readiness; ``cycle`` is one cycle (load,
read, plan, auto-apply) built from the same parts as ``plan`` and ``apply``; ``metrics`` holds
the Prometheus metrics (the only module importing ``prometheus_client``, the
``reconciler[watch]`` extra, reached through ``extra``); ``endpoints`` serves ``/metrics``,
``/healthz`` and ``/readyz``; ``logformat`` writes redacted JSON or text log lines.
"""
