"""``python -m estates``: see :mod:`estates.cli`."""

import os
import sys

# Before numpy is imported: OpenBLAS (numpy's BLAS) starts a worker thread per core at import, and they spin while
# waiting for work. No command does floating-point linear algebra, and on a 2-core machine the spinning took 0.15 s
# of CPU from a 200,000-row geocode (1.25 -> 1.10 s user). A value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from estates.cli import main  # noqa: E402  (after the setting above, which numpy reads when it loads)

sys.exit(main())
