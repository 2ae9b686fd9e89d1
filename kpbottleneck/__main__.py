"""``python -m kpbottleneck``: the same program as the ``kpbottleneck`` command."""

from kpbottleneck.cli import main

main()
