"""What can go wrong when a store is opened, as one readable line: the errors :func:`estates.store.open_store` raises.

A store is opened for writing (created or migrated as needed) or for reading only (``read_only=True``: nothing is
created, migrated or written, and a file that is not an estates store is refused). Engine errors at open time
(``sqlite3`` and ``psycopg``) become :class:`StoreOpenError` with one line that names the store without its password.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from estates.store.base import StoreError

__all__ = ["NoStoreError", "StoreOpenError", "one_line", "without_password"]


class StoreOpenError(StoreError):
    """The store could not be opened: unreachable server, refused login, not a database, not an estates store, or a
    schema version this tool cannot read. Nothing was written. The message is one line, without any password."""


class NoStoreError(StoreOpenError):
    """Opened for reading only, but nothing is stored there yet (no file, or a database without the store's tables)."""


def one_line(text: object) -> str:
    """The text on one line: runs of whitespace (PostgreSQL's multi-line messages, hints) become one space."""
    return re.sub(r"\s+", " ", str(text)).strip()


def without_password(text: str, url: str | None) -> str:
    """``text`` with the password of ``url`` (as written and percent-decoded) replaced by ``***``."""
    if not url:
        return text
    try:
        password = urlsplit(url).password
    except ValueError:  # an unparsable URL: mask whatever sits between user: and @
        match = re.search(r"//[^:/@]*:([^@]*)@", url)
        password = match.group(1) if match else None
    for secret in {password, unquote(password)} if password else ():
        if secret:
            text = text.replace(secret, "***")
    return text
