"""``python -m estates``: see :mod:`estates.cli`."""

import sys

from estates.cli import main

sys.exit(main())
