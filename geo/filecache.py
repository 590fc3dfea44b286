"""Files derived from a place's data and kept between runs in ``var/cache`` (git-ignored).

A cache file is named by a digest of what it derives from (the source files' names, sizes and modification times,
and the format of the derived file), so a stale file is never read: a changed source gives a new name. Files are
written atomically, so a process reading while another writes sees the old file or the whole new one. An
unwritable folder only means deriving again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["CACHE_DIR", "source_digest", "write_atomically"]

#: The project's cache folder.
CACHE_DIR: Path = Path(__file__).resolve().parent.parent / "var" / "cache"


def source_digest(sources: Iterable[Path], *extra: object) -> str:
    """A 20-character digest of the files a derived file is made from and of anything else it depends on.

    Parameters
    ----------
    sources
        Source files; a missing one is left out (the caller reports it when it reads the sources).
    *extra
        Further inputs (a format number, a CRS, a resolved folder), compared by ``repr``.
    """
    stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sources if p.exists()]
    return hashlib.sha256(repr([*stamp, *extra]).encode("utf-8")).hexdigest()[:20]


def write_atomically(path: Path, data: bytes) -> None:
    """Write one cache file atomically (raises ``OSError`` when the folder is not writable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(path)
