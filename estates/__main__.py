"""``python -m estates``: see :mod:`estates.cli`."""

import gc
import os
import sys

# Before numpy is imported: OpenBLAS (numpy's BLAS) starts a worker thread per core at import, and they spin while
# waiting for work. No command does floating-point linear algebra, and on a 2-core machine the spinning took 0.15 s
# of CPU from a 200,000-row geocode (1.25 -> 1.10 s user). A value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from estates.cli import main  # noqa: E402  (after the setting above, which numpy reads when it loads)

status = main()
# The command is done and the process ends: at exit the interpreter's own cycle collections walk and tear down the
# ~70,000 objects still tracked, most of them the modules of pandas, pyarrow and numpy (0.13-0.18 s after a
# 200,000-row geocode, 0.04-0.05 s frozen). Frozen (gc.freeze, public API), they are left to the OS as the process
# ends; everything else about the exit is as before: the command's files are written and closed, atexit handlers
# run, stdout and stderr are flushed.
gc.freeze()
sys.exit(status)
