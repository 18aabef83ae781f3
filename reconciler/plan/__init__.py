"""Planning, pure and without I/O: normalise desired and live stores, diff them, check safety."""
