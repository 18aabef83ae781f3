"""``python -m reconciler``: the same as the ``reconciler`` console script."""

from reconciler.cli.main import main_entry

main_entry()
