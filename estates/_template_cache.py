"""Jinja templates that folium and its plugins compile on import, kept compiled between runs of the app.

folium, branca and folium's plugins (which ``streamlit_folium`` imports whole) compile about 85 Jinja templates the
moment they are imported — every element class holds ``_template = Template("…")`` — and compiling them is about
0.18 s of the app's cold start on the development machine, more than half of importing those libraries. The
templates never change between runs of one installation, so :func:`compiled_templates` keeps the compiled code in
one file (:data:`CACHE_DIR`, git-ignored) and reads it back on the next start.

Only compiles made *in the calling thread while the context is active* go through the cache (``app.py``'s warm-up
wraps its imports of the map libraries in it). Templates compiled while maps are rendered (branca compiles each
rendered script again, with register text in it) never do: they would fill the cache with data. Anything unusual —
no cache file, an unreadable or stale one, a template with a name or file, another Python or Jinja version — simply
compiles as Jinja always does; the result is the code Jinja itself would produce for the same source and settings.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType
from typing import Any

import jinja2

__all__ = ["CACHE_DIR", "compiled_templates", "write_cache_file"]

#: Where the compiled templates are kept (``var/`` is git-ignored); unwritable: no cache, nothing else changes.
CACHE_DIR: Path = Path(__file__).resolve().parent.parent / "var" / "cache"

_active = threading.local()
_lock = threading.Lock()
_depth = 0
_original: Callable[..., Any] | None = None
_codes: dict[str, CodeType] = {}
_new = False


def write_cache_file(path: Path, data: bytes) -> None:
    """Write one file of :data:`CACHE_DIR` atomically: another process reads the old file or the whole new one.

    Raises ``OSError`` when it cannot be written; callers treat that as "no cache".
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(path)


def _cache_file() -> Path:
    """One file per Python bytecode and Jinja version: code objects only load in the interpreter that made them."""
    return CACHE_DIR / f"jinja-{sys.implementation.cache_tag}-{jinja2.__version__}.marshal"


def _describe(value: object) -> str:
    """Stable text for a setting that may be a function (whose repr would carry a memory address)."""
    return getattr(value, "__qualname__", None) or repr(value)


def _key(environment: jinja2.Environment, source: str) -> str:
    """The source plus every environment setting that changes the code Jinja generates for it."""
    settings = (
        type(environment).__module__, type(environment).__qualname__, _describe(environment.code_generator_class),
        environment.block_start_string, environment.block_end_string, environment.variable_start_string,
        environment.variable_end_string, environment.comment_start_string, environment.comment_end_string,
        environment.line_statement_prefix, environment.line_comment_prefix, environment.trim_blocks,
        environment.lstrip_blocks, environment.newline_sequence, environment.keep_trailing_newline,
        tuple(sorted(environment.extensions)), environment.optimized, _describe(environment.autoescape),
        _describe(environment.finalize), environment.is_async, sys.version,
    )
    return hashlib.sha256(repr((settings, source)).encode("utf-8")).hexdigest()


def _compile(
    self: jinja2.Environment,
    source: Any,
    name: str | None = None,
    filename: str | None = None,
    raw: bool = False,
    defer_init: bool = False,
) -> Any:
    """``jinja2.Environment.compile``, answered from the cache for plain source strings in an active thread."""
    global _new
    assert _original is not None
    if not getattr(_active, "depth", 0) or not isinstance(source, str) or name is not None or filename is not None \
            or raw or defer_init:
        return _original(self, source, name, filename, raw, defer_init)
    key = _key(self, source)
    code = _codes.get(key)
    if code is None:
        code = _original(self, source, name, filename, raw, defer_init)
        with _lock:
            _codes[key] = code
            _new = True
    return code


def _load() -> None:
    with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
        stored = marshal.loads(_cache_file().read_bytes())
        if isinstance(stored, dict):
            _codes.update({k: v for k, v in stored.items() if isinstance(k, str) and isinstance(v, CodeType)})


def _save() -> None:
    global _new
    if not _new:
        return
    with contextlib.suppress(OSError, ValueError):
        write_cache_file(_cache_file(), marshal.dumps(dict(_codes)))
        _new = False


@contextlib.contextmanager
def compiled_templates() -> Iterator[None]:
    """Within the block, Jinja templates compiled (in this thread) from source strings come from the cache.

    Wrap imports of folium, branca and their plugins in it; do not render maps inside it. On leaving, templates
    compiled for the first time are written to the cache, and Jinja is left exactly as it was.
    """
    global _depth, _original
    with _lock:
        if _depth == 0:
            _original = jinja2.Environment.compile
            jinja2.Environment.compile = _compile  # type: ignore[method-assign,assignment]
            _load()
        _depth += 1
    _active.depth = getattr(_active, "depth", 0) + 1
    try:
        yield
    finally:
        _active.depth -= 1
        with _lock:
            _depth -= 1
            if _depth == 0:
                _save()
                jinja2.Environment.compile = _original  # type: ignore[method-assign]
                _codes.clear()
