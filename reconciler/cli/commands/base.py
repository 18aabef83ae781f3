"""What every command receives besides its arguments: the streams and the environment.

Nothing in a command touches ``sys`` directly, so tests drive the real commands in-process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True, slots=True)
class IO:
    """The streams and environment a command may use."""

    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    env: Mapping[str, str]
