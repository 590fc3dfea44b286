"""What every page shares: the store, the estate (cached per store revision), the sidebar filters, the actor.

Kept thin: the work is done by ``estates.service`` (the estate: reads and writes), ``estates.app_data`` (details
panels), ``estates.analysis.filters`` (filtering),
``estates.maps`` (maps) and friends. This module only wires them to Streamlit's caches, widgets and session state.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from estates.analysis.filters import DIMENSIONS, Filters, filter_options, filter_sites
from estates.app_data import building_details, building_record, site_details
from estates.maps import NO_BASEMAP, Basemap, configured_basemaps
from estates.service import Estate, LiveEstate, load_registers, store_revision, store_target
from estates.store import Store, open_store
from geo.place import Place, available_places, choose_place, load_place
from pages import _tables

__all__ = [
    "FILTER_KEYS",
    "MAP_HEIGHT",
    "basemap",
    "count_caption",
    "current_actor",
    "current_filters",
    "ensure_store_ready",
    "estate",
    "linked_site",
    "md",
    "place",
    "prepare_estate",
    "render_place_switcher",
    "use_session_place",
    "reload_estate",
    "render_sidebar",
    "show_details",
    "site_link",
    "show_site",
    "store",
]

#: Height of the pages' maps (px).
MAP_HEIGHT = 620

#: Session-state key of each filter widget.
FILTER_KEYS: dict[str, str] = {name: f"filter_{name}" for name in (*DIMENSIONS, "search", "include_historic")}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def current_actor() -> str:
    """Who is making changes: the one place the app decides it (``pages/_auth.py``).

    Returns
    -------
    str
        The signed-in person's e-mail when sign-in is configured, else the operating-system user.
    """
    from pages import _auth

    return _auth.current_actor()


def md(text: object) -> str:
    """Text from a register made safe for ``st.markdown``: every Markdown/HTML special character escaped."""
    return _MD_SPECIAL.sub(r"\\\1", "" if text is None else str(text))


#: Session-state key of the place this browser session shows (a folder name under data/).
PLACE_KEY = "place"

#: Session-state key prefixes of the pages' own widgets and selections: forgotten when the place changes.
_PLACE_BOUND = ("filter_", "estate_map", "classify", "matches", "locality", "profiles", "overlap", "access", "data_")


def place() -> Place:
    """The place this browser session shows: the one chosen in the sidebar, else ``ESTATES_PLACE`` or the default."""
    chosen = st.session_state.get(PLACE_KEY)
    return load_place(chosen) if chosen else load_place()


def use_session_place() -> Place:
    """Make this session's place the current place of this script run (``geo.place.choose_place``), so everything
    the run calls with the default place — maps, layers, rules, the service — uses it. Returns it."""
    choose_place(st.session_state.get(PLACE_KEY))
    return place()


def _switch_place() -> None:
    chosen = st.session_state.get("place_choice")
    if chosen and chosen != st.session_state.get(PLACE_KEY):
        for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(_PLACE_BOUND)]:
            del st.session_state[key]
        st.session_state[PLACE_KEY] = chosen
        choose_place(chosen)


def render_place_switcher() -> None:
    """A place switcher at the top of the sidebar when ``data/`` holds more than one place (nothing otherwise).

    Switching changes the place of this browser session only (never the process environment); the filters and
    the pages' selections start again.
    """
    choices = {p.folder.name: p.name for p in available_places()}
    if len(choices) < 2:
        return
    current = place()
    key = current.folder.name if current.folder.name in choices else next(iter(choices))
    st.session_state["place_choice"] = key
    st.sidebar.selectbox("Place", list(choices), format_func=choices.get, key="place_choice",
                         on_change=_switch_place, help="Each place's estate is kept apart in the one store.")


# Process-wide, shared by every session (like st.cache_resource, but usable by app.py's start-up warm-up too).
@functools.lru_cache(maxsize=8)
def _open_store(target: str) -> Store:
    return open_store(target)


@functools.lru_cache(maxsize=16)
def _live_estate(target: str, slug: str) -> LiveEstate:
    return LiveEstate(_open_store(target), place=slug)


#: (store, place) pairs known to hold an estate: no check needed on later runs.
_READY: set[tuple[str, str]] = set()


_SEED_LOCK = threading.Lock()


def store() -> Store:
    """The app's store, one per process (PostGIS: a connection pool; ``ESTATES_DATABASE_URL`` or the embedded file)."""
    return _open_store(store_target())


def prepare_estate() -> None:
    """Open the store and read the estate ahead of the first page view (``app.py``'s warm-up); never seeds.

    The first snapshot also records the store's revision (``store_revision``), so the first page run's checks only
    ask for audit rows newer than that.
    """
    _live_estate(store_target(), load_place().slug).snapshot()


def ensure_store_ready() -> None:
    """Seed the store with the place's demo partner list the first time the place is shown (the store holds no
    record of it yet), with a progress bar; otherwise do nothing (fast).

    The partner list is the place's own (``[config] registers`` in its place.toml, else the demo estate when that
    is the place's). A place without one starts empty: registers are loaded on the Data page.
    """
    from estates.ingest.partners import ConfigError

    handle, where = store(), place()
    key = (handle.location, where.slug)
    if key in _READY:
        return
    with _SEED_LOCK:
        if where.slug in handle.places():  # seeded before, or by another session meanwhile
            _READY.add(key)
            return
        try:
            with st.status(f"First start of {where.name}: loading its partner registers into the store…",
                           expanded=True) as status:
                bar = st.progress(0.0, text="Starting")
                report = load_registers(handle, place=where, progress=lambda label, done: bar.progress(
                    min(max(done, 0.0), 1.0), text=label))
                status.update(label=f"Loaded {report.buildings['inserted']:,} records ({report.sites:,} sites) of "
                                    f"{where.name} from {report.registers} registers into {handle.location}",
                              state="complete", expanded=False)
        except ConfigError as exc:
            st.info(f"{md(where.name)} has no demo partner list to start from ({md(exc)}): load its registers on "
                    "the Data page.")
        _READY.add(key)
    store_revision(handle)


def estate() -> Estate:
    """The whole estate — sites and their records — as the store holds it now (after a save only the changed
    records are re-read).

    Shared by every session: do not modify it.
    """
    live = _live_estate(store_target(), place().slug)
    if live.loaded:
        return live.snapshot()[1]
    with st.spinner("Reading the estate from the store…"):
        return live.snapshot()[1]


def reload_estate() -> None:
    """Read the whole estate again on the next run (after a register is loaded or sites matched again)."""
    _live_estate(store_target(), place().slug).reload()


def current_filters() -> Filters:
    """The sidebar's filters as chosen in this session (they persist across pages)."""
    state = st.session_state
    values: dict[str, object] = {name: tuple(state.get(FILTER_KEYS[name], ())) for name in DIMENSIONS}
    values["search"] = str(state.get(FILTER_KEYS["search"], "") or "")
    values["include_historic"] = bool(state.get(FILTER_KEYS["include_historic"], True))
    return Filters().replace(**values)


def _clear_filters() -> None:
    for name, key in FILTER_KEYS.items():
        st.session_state[key] = True if name == "include_historic" else ("" if name == "search" else [])


def render_sidebar(whole: Estate, *, where: Place) -> Filters:
    """Draw the shared filters and the basemap choice in the sidebar; return the filters.

    Parameters
    ----------
    whole
        The whole estate (for the choices and the total).
    where
        The place (names the neighbourhood filter with the place's own term).

    Returns
    -------
    Filters
    """
    options = filter_options(whole.records)
    labels = {name: label for name, (_, label) in DIMENSIONS.items()}
    labels["neighbourhoods"] = where.neighbourhood_term.capitalize()
    sidebar = st.sidebar
    sidebar.subheader("Filters")
    sidebar.text_input("Search name, postcode or UPRN", key=FILTER_KEYS["search"],
                       placeholder="e.g. library, M32 0TH, 10091813602")
    for name in DIMENSIONS:
        chosen = [v for v in st.session_state.get(FILTER_KEYS[name], []) if v in options[name]]
        st.session_state[FILTER_KEYS[name]] = chosen
        sidebar.multiselect(labels[name], options[name], key=FILTER_KEYS[name], placeholder="All")
    st.session_state.setdefault(FILTER_KEYS["include_historic"], True)
    sidebar.checkbox("Include historic records", key=FILTER_KEYS["include_historic"],
                     help="Records from sources known to be out of date (NHS ODS 2018, the 2022 PCN list, …)")
    filters = current_filters()
    shown = len(filter_sites(whole, filters))
    sidebar.markdown(f"**{shown:,}** of {len(whole.sites):,} sites match")
    sidebar.button("Clear filters", key="filter_clear", on_click=_clear_filters, disabled=not filters.active)
    choices = configured_basemaps()
    if len(choices) > 1:
        sidebar.selectbox("Basemap", [b.name for b in choices], key="basemap")
    return filters


def basemap() -> Basemap:
    """The basemap chosen in the sidebar (no basemap unless a tile server is configured and chosen)."""
    chosen = st.session_state.get("basemap")
    return next((b for b in configured_basemaps() if b.name == chosen), NO_BASEMAP)


def count_caption(shown: pd.DataFrame, total: int, *, what: str = "sites shown", on_map: bool = True) -> str:
    """``"123 of 780 sites shown (4 without a location are not on the map)"``."""
    unplaced = int(shown["lat"].isna().sum()) if on_map else 0
    tail = f" ({unplaced:,} without a location are not on the map)" if unplaced else ""
    return f"**{len(shown):,}** of {total:,} {what}{tail}"


def show_details(record: dict[str, object], *, where: Place, sections: Sequence[str] | None = None) -> None:
    """The details panel of one building: headline, status, explanation and every other field, all escaped.

    Parameters
    ----------
    record
        ``estates.app_data.building_record`` output.
    where
        The place.
    sections
        Only these sections (default: all).
    """
    name = record.get("name") or "(no name)"
    st.subheader(md(name))
    status = record.get("status") or "not classified"
    source = "set by hand" if record.get("status_source") == "override" else "suggested by the rules"
    st.markdown(f"**Status: {md(status)}** ({source}) · {md(record.get('partner'))}")
    for section in building_details(record, place=where):
        if sections is not None and section.title not in sections:
            continue
        if section.title == "Explanation":
            with st.expander("Why: the rules' explanation", expanded=True):
                st.markdown(md(section.rows[0][1]))
            continue
        with st.expander(section.title, expanded=section.title in ("Record", "Classification")):
            _tables.show_table(section.frame())


def show_site(whole: Estate, site_id: str, *, where: Place, records: bool = True) -> None:
    """The details panel of one site: name, status and how it was decided, occupants, and every record.

    Parameters
    ----------
    whole
        The estate (:func:`estate`).
    site_id
        The site.
    where
        The place.
    records
        Show the table of the site's records (with the decision that put each on the site).
    """
    site = whole.sites.set_index("site_id").loc[site_id]
    st.subheader(md(site.get("name") if isinstance(site.get("name"), str) else "(no name)"))
    status = site.get("status") if isinstance(site.get("status"), str) else "not classified"
    source = "set by hand" if site.get("status_source") == "override" else "suggested by the rules"
    st.markdown(f"**Status: {md(status)}** ({source}) · {md(site.get('partners'))}")
    explanation = None
    decider = site.get("rule_record")
    if isinstance(decider, str):
        try:
            explanation = building_record(store(), decider).get("rule_explanation")
        except KeyError:
            explanation = None
    sections, table = site_details(whole, site_id, pairs=store().site_matches(place=where.slug),
                                   explanation=explanation)
    for section in sections:
        with st.expander(section.title, expanded=True):
            _tables.show_table(section.frame())
    if records:
        st.markdown(f"**Register records on this site** ({len(table):,})")
        _tables.show_table(table)



def site_link(site_id: str, *, page: str = "classify") -> str:
    """A link to a page with a site selected (``classify?site=<id>``), relative so it works under any base path."""
    from urllib.parse import quote

    return f"{page}?site={quote(str(site_id), safe='')}"


def linked_site(whole: Estate) -> str | None:
    """The site a link to this page names (``?site=ID``, a site or record id; :func:`site_link`), taken once.

    The parameter is removed from the address as it is read, so the person's own choices win afterwards. An id no
    longer in the store, or a site the sidebar filters hide, is said on the page.

    Parameters
    ----------
    whole
        The whole estate (:func:`estate`).

    Returns
    -------
    str or None
        The site id, or None when the page was not opened through such a link (or the id is unknown).
    """
    from estates.service import resolve_site
    from estates.store import NotFoundError

    wanted = st.query_params.get("site")
    if not wanted:
        return None
    del st.query_params["site"]
    try:
        site_id = resolve_site(whole, str(wanted))
    except NotFoundError:
        st.warning(f"The link names {md(wanted)}, which is no longer a site or record in the store "
                   "(its records may have been matched again).")
        return None
    if site_id not in set(filter_sites(whole, current_filters())["site_id"]):
        st.info(f"The linked site {md(site_id)} is hidden by the sidebar filters: clear them to see it.")
    return site_id
