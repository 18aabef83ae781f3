"""The one error hierarchy of reconciler, each class carrying its exit code.

Every failure a user can see is one of these; the CLI maps them to exit codes at a single
point and prints ``str(error)``, which never contains a secret (secrets are redacted where the
error is raised, never afterwards)::

    ReconcilerError (exit 1)
    ├── UsageError            bad flags or arguments
    ├── ConfigError           missing token, refused API host, bad environment
    ├── ManifestError         one or more manifest problems, each with file:line:column
    ├── PlanError             the live state cannot be reconciled (ambiguous stores, ...)
    │   └── UnsafePlanError   the plan trips a safety limit; names the flag that overrides it
    ├── ApiError              LaunchDarkly answered with an error (status, code, message)
    │   └── ConflictError     409: the store changed since it was read (optimistic locking)
    ├── TransportError        LaunchDarkly could not be reached (timeouts, refused connections)
    ├── ApplyError            apply stopped part-way; says what was done and what was not
    │   └── ApplyInterrupted  SIGINT (exit 130) or SIGTERM (exit 143) stopped apply
    └── MissingExtraError     a command's optional extra is not installed; names the extra
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_SIGNAL_BASE = 128  # a run stopped by signal N exits 128 + N: SIGINT 130, SIGTERM 143


class ReconcilerError(Exception):
    """Base of every error reconciler raises on purpose."""

    exit_code: int = EXIT_ERROR


class UsageError(ReconcilerError):
    """The command line itself is wrong (unknown flag, missing argument)."""


class ConfigError(ReconcilerError):
    """The environment or connection settings are wrong (token, host)."""


@dataclass(frozen=True, slots=True)
class ManifestProblem:
    """One problem in one manifest, pinned to ``file:line:column``."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


MAX_SHOWN_PROBLEMS = 100


class ManifestError(ReconcilerError):
    """One or more manifests are invalid; carries every problem found in the run. The message
    shows the first ``MAX_SHOWN_PROBLEMS``; ``stopped`` says checking ended early."""

    def __init__(self, problems: Sequence[ManifestProblem], *, stopped: bool = False) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (p.file, p.line, p.column)))
        self.stopped = stopped
        count = len(self.problems)
        head = f"{count}{'+' if stopped else ''} manifest error{'s' if count != 1 else ''}:"
        lines = [head, *(f"  {p}" for p in self.problems[:MAX_SHOWN_PROBLEMS])]
        if count > MAX_SHOWN_PROBLEMS:
            lines.append(f"  ... and {count - MAX_SHOWN_PROBLEMS} more")
        if stopped:
            lines.append("  checking stopped early; fix these and run again")
        super().__init__("\n".join(lines))


class PlanError(ReconcilerError):
    """The live state cannot be matched to the manifests unambiguously."""


class UnsafePlanError(PlanError):
    """The plan exceeds a safety limit; the message names the flag that allows it."""


class ApiError(ReconcilerError):
    """LaunchDarkly answered with an HTTP error."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        method: str,
        path: str,
        address: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.api_message = message
        self.method = method
        self.path = path
        self.address = address
        where = f"{address}: " if address else ""
        super().__init__(
            f"{where}LaunchDarkly answered {method} {path} with HTTP {status}"
            f" {code or '(no code)'}: {message or '(no message)'}"
        )

    def for_address(self, address: str) -> ApiError:
        """The same error, naming the store it concerned."""
        return type(self)(
            status=self.status,
            code=self.code,
            message=self.api_message,
            method=self.method,
            path=self.path,
            address=address,
        )


class ConflictError(ApiError):
    """HTTP 409: someone else changed the store after it was read."""


class TransportError(ReconcilerError):
    """LaunchDarkly could not be reached at all (after retries)."""


class ApplyError(ReconcilerError):
    """Apply failed part-way; the message lists what was changed and what was not."""


class MissingExtraError(ReconcilerError):
    """A command needs an optional extra (``reconciler[verify]``, ...) that is not installed."""


class ApplyInterrupted(ApplyError):
    """A signal stopped apply; exits 128 + the signal's number (130 for SIGINT, 143 for
    SIGTERM), like a shell reports a process killed by it."""

    def __init__(self, message: str, *, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = EXIT_SIGNAL_BASE + signum
