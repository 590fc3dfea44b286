"""Entry point: ``streamlit run app.py`` (see README for the one-command start).

Streamlit finds the ``st.App`` below and serves the app's shell, ``pages/_shell.py`` (navigation, store set-up,
shared sidebar, one module per page). The app object adds one thing to a plain ``streamlit run``: while the server
starts and the first browser is still loading Streamlit's own page, a background thread imports the map libraries
(their Jinja templates read compiled from the last run, ``estates/_template_cache.py``), prepares the place's
boundary layers and reads the estate, so the first visitor does not wait for them (cold start to an interactive map:
target 3 s; figures, with each machine's floor, from ``benchmarks/bench_app.py`` in ``docs/app.md``). Nothing here
is needed for correctness: the shell also runs on its own (``streamlit run pages/_shell.py``), just with a slower
first page.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st

_LOG = logging.getLogger(__name__)


def warm_up() -> None:
    """Import what the pages need, build the place's map layers, read the estate (once per process; errors logged)."""
    try:
        from estates._template_cache import compiled_templates

        # Importing folium, its plugins and branca compiles ~85 Jinja templates: read them compiled from the last
        # run instead (about a sixth of a cold start). Only imports happen inside the block, never map rendering.
        with compiled_templates():
            # Not streamlit_folium itself: a component imported outside a script run is never registered (its
            # files would then answer 404). folium.plugins is the slow part of importing it.
            import folium.plugins  # noqa: F401 - imported for the module cache

            from pages import _auth, _common  # noqa: F401 - the shell's imports, estates.maps's templates too
        import streamlit.emojis  # noqa: F401 - the page icon check

        from estates.maps import prepare_maps

        _skip_repl_check()
        prepare_maps()
        _common.prepare_estate()
        # Everything loaded so far lives as long as the process. Streamlit collects garbage after every script run
        # (gc.collect(2)), which would otherwise walk all of it each time — ~0.05 s, holding the GIL, before the page
        # goes to the browser, on every run. Frozen objects are skipped; each run's own garbage is still collected.
        # (Frozen objects are never collected: the one base map built above stays, a few dozen small objects.)
        gc.freeze()
    except Exception:  # a warm-up must never stop the app; the first page view redoes the work
        _LOG.exception("warm-up failed; the first page view will be slower")


def _skip_repl_check() -> None:
    """Spare the first page view Streamlit's once-per-process "are we in a REPL?" check.

    Before its first element, Streamlit calls ``inspect.stack()`` to decide whether to print a hint for people
    running a script in a Python REPL: it finds and reads the source file of every frame on the stack and, with
    pandas, folium and geopandas loaded, resolves the real path of some 1,500 module files — about 0.05 s of the
    first page view, for a hint ``streamlit run`` never prints. The flag is private: if an upgrade renames it,
    nothing is set and the check simply runs as before.
    """
    from streamlit import delta_generator

    if hasattr(delta_generator, "_use_warning_has_been_displayed"):
        delta_generator._use_warning_has_been_displayed = True


@asynccontextmanager
async def _lifespan(_app: st.App) -> AsyncIterator[None]:
    threading.Thread(target=warm_up, name="estates-warm-up", daemon=True).start()
    yield


# Streamlit's server imports this module to find ``app``, after reading its command line and config: bound beyond
# loopback without sign-in, exit here (one line, status 2) rather than serve anything (docs/deployment.md).
from pages._auth import refuse_unsafe_start  # noqa: E402 - the check belongs with the app it guards

refuse_unsafe_start()
app = st.App("pages/_shell.py", lifespan=_lifespan)
