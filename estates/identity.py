"""Who is acting: the one place the product decides the name written into the audit history.

On one machine (the embedded default and the CLI) it is the operating-system user; with sign-in configured the app
passes the signed-in person's identity instead.
"""

from __future__ import annotations

import getpass
import os

__all__ = ["local_user"]


def local_user() -> str:
    """The operating-system user running this process (``ESTATES_ACTOR`` overrides it, e.g. for scripted runs).

    A name that is one of the app's own programs (``ingest``, ``rules``, ``matching``; ``estates.auth.MACHINE_ACTORS``)
    is recorded as ``user:<name>``, so the history never shows a person's change as the program's.
    """
    from estates.auth import is_machine_actor

    name = os.environ.get("ESTATES_ACTOR", "").strip() or _os_user()
    return f"user:{name}" if is_machine_actor(name) else name


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"uid-{os.getuid()}"
