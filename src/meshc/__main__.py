"""``python -m meshc``: the same command line as the ``meshc`` script."""

import sys

from meshc.cli import main

sys.exit(main())
