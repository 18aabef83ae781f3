"""``python -m reconciler``: the same as the ``reconciler`` console script."""

from reconciler.cli import main_entry

main_entry()
