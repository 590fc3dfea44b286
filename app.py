"""Entry point: ``streamlit run app.py`` (see README for the one-command start).

Streamlit finds the ``st.App`` below and serves the app's shell, ``pages/_shell.py`` (navigation, store set-up,
shared sidebar, one module per page). The app object adds one thing to a plain ``streamlit run``: while the server
starts and the first browser is still loading Streamlit's own page, a background thread imports the map libraries,
prepares the place's boundary layers and reads the estate, so the first visitor does not wait for them (cold start to
an interactive map: figures, as a ratio to a bare Streamlit page on the same machine, from ``benchmarks/bench_app.py``
in ``docs/app.md``). Only public Streamlit API and options are used (``st.App`` here, ``runner.postScriptGC`` in
``.streamlit/config.toml``). Nothing here is needed for correctness: the shell also runs on its own
(``streamlit run pages/_shell.py``), just with a slower first page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st

_LOG = logging.getLogger(__name__)


def warm_up() -> None:
    """Import what the pages need, build the place's map layers, read the estate (once per process; errors logged)."""
    try:
        # Not streamlit_folium itself: a component imported outside a script run is never registered (its files
        # would then answer 404). folium.plugins is the slow part of importing it.
        import folium.plugins  # noqa: F401 - imported for the module cache
        import streamlit.emojis  # noqa: F401 - the page icon check

        from estates.maps import prepare_maps
        from pages import _auth, _common  # noqa: F401 - the shell's imports

        prepare_maps()
        _common.prepare_estate()
    except Exception:  # a warm-up must never stop the app; the first page view redoes the work
        _LOG.exception("warm-up failed; the first page view will be slower")


@asynccontextmanager
async def _lifespan(_app: st.App) -> AsyncIterator[None]:
    threading.Thread(target=warm_up, name="estates-warm-up", daemon=True).start()
    yield


# Streamlit's server imports this module to find ``app``, after reading its command line and config: bound beyond
# loopback without sign-in, exit here (one line, status 2) rather than serve anything (docs/deployment.md).
from pages._auth import refuse_unsafe_start  # noqa: E402 - the check belongs with the app it guards

refuse_unsafe_start()
app = st.App("pages/_shell.py", lifespan=_lifespan)
