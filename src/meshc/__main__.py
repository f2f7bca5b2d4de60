"""``python -m meshc``: the same command line as the ``meshc`` script."""

from meshc.cli import run

run()
