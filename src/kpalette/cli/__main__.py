"""``python -m kpalette.cli``: the command line, as ``python -m kpalette``."""

import sys

from . import main

sys.exit(main())
