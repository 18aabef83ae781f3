"""Helpers for tests that drive the real CLI in-process against the emulator over HTTP."""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from conftest import TOKEN

from reconciler.cli.main import main
from reconciler.emulator import EmulatorServer

JOURNAL = str(Path(tempfile.gettempdir()) / f"reconciler-tests-{os.getpid()}.journal.jsonl")
PASSWORD = "payments-redis-Secr3t-value"
EXTERNAL_ID = "ext-7f1c2a9e-payments-staging"
SEARCH_PASSWORD = "search-redis-An0ther-secret"

PAYMENTS = """\
project: payments
defaults:
  tags: [team:payments]
stores:
  - environment: production
    integrationKey: redis
    name: Payments production
    on: true
    tags: [tier:1]
    config:
      host: redis.payments.internal
      port: 6379
      username: launchdarkly
      password: ${REDIS_PAYMENTS_PASSWORD}
      tlsEnabled: true
  - environment: staging
    integrationKey: dynamodb
    name: Payments staging
    config:
      region: us-east-1
      tableName: ld-big-segments-staging
      roleArn: arn:aws:iam::123456789012:role/launchdarkly-big-segments
      externalId: ${LD_EXTERNAL_ID}
"""


class Tty(io.StringIO):
    """Standard input that says it is a terminal (our own IO seam, not a patch)."""

    def isatty(self) -> bool:
        return True


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def all(self) -> str:
        return self.out + self.err


def env_for(server: EmulatorServer, **extra: str) -> dict[str, str]:
    env = {
        "LAUNCHDARKLY_ACCESS_TOKEN": TOKEN,
        "LAUNCHDARKLY_API_HOST": server.url,
        "REDIS_PAYMENTS_PASSWORD": PASSWORD,
        "LD_EXTERNAL_ID": EXTERNAL_ID,
        "REDIS_SEARCH_PASSWORD": SEARCH_PASSWORD,
        "RECONCILER_JOURNAL": JOURNAL,
    }
    env.update(extra)
    return env


def cli(server: EmulatorServer, *argv: str, stdin: io.StringIO | None = None, **env: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        list(argv),
        stdin=stdin or io.StringIO(""),
        stdout=out,
        stderr=err,
        env=env_for(server, **env),
    )
    return Result(code, out.getvalue(), err.getvalue())


def write(tmp: Path, text: str, name: str = "payments.yaml") -> str:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return str(path)
