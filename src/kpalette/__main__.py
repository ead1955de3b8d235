"""``python -m kpalette``: the same as the ``kpalette`` command."""

import sys

from .cli import main

sys.exit(main())
