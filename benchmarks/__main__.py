"""``python -m benchmarks``: run the benchmark (see ``benchmarks.bench``)."""

from __future__ import annotations

from benchmarks.bench import main

if __name__ == "__main__":
    raise SystemExit(main())
