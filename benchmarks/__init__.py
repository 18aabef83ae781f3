"""Benchmarks of the reconciler (``make bench``): not part of the installed package."""
