"""Partner data requests, a section of the Data page (``pages/data.py`` calls :func:`section` in one line).

How complete each partner's facts are and which missing facts would decide the most "needs data" sites; a partner's
data-request workbook to download; register templates for partner types with no register yet; and a returned
workbook uploaded, previewed (each value old → new, each refusal with its reason, where "needs data" would go) and
written only when confirmed with a reason. The work is in :mod:`estates.facts`; this module only draws it.
"""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from estates.app_data import missing_partner_types
from estates.classification import RuleSet, load_rules
from estates.facts import (
    ImportPreview,
    apply_import,
    completeness,
    deciding_facts,
    facts_frame,
    needs_data_counts,
    preview_import,
    requested_facts,
    write_register_template,
    write_request,
)
from estates.service import store_revision
from estates.store import StaleVersionError, Store
from pages import _auth
from pages import _common as common

__all__ = ["section"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REQUEST = "facts_request"  # (partner, workbook bytes, site count) of the last prepared request
PREVIEW = "facts_preview"  # {"id": upload id, "preview": ImportPreview} of the uploaded return
DONE = "facts_done"  # the last confirmed import's result text, shown once


@st.cache_resource(show_spinner=False)
def _rules(path: str) -> RuleSet:
    return load_rules(path)


def _rules_path() -> str:
    """The current place's rules file (each place is classified by its own)."""
    return str(common.place().path("config", "classification"))


@st.cache_data(show_spinner=False, max_entries=4)
def _frame(location: str, revision: int, place: str, rules_path: str, _store: Store) -> pd.DataFrame:
    """The place's buildings with their facts, read once per store revision (every saved change bumps it)."""
    return facts_frame(_store, requested_facts(_rules(rules_path)), place=place)


@st.cache_data(show_spinner=False, max_entries=32)
def _template(partner_type: str, label: str, day: date, rules_path: str) -> bytes:
    buffer = io.BytesIO()
    write_register_template(buffer, partner_type, _rules(rules_path), label=label, today=day)
    return buffer.getvalue()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "partner"


def section(everything: pd.DataFrame) -> None:
    """Draw the partner data requests section.

    Parameters
    ----------
    everything
        The whole estate (``pages._common.estate()``), for the partner types with no register yet.
    """
    state = st.session_state
    rules = _rules(_rules_path())
    store = common.store()
    facts = requested_facts(rules)
    frame = _frame(store.location, store_revision(store), common.place().slug, _rules_path(), store)
    records, sites = needs_data_counts(frame)

    st.subheader("Partner data requests")
    st.markdown(f"**{records:,}** records on **{sites:,}** sites need data: the rules are ready, the facts they "
                "test are missing. Send each partner a workbook of its sites to fill in, then load it back here.")
    done = state.pop(DONE, None)
    if done:
        st.success(done)
    with st.expander("Completeness: sites with each fact, and the facts that would decide the most"):
        views = {"partner": "partner", "neighbourhood": "neighbourhood",
                 "partner × neighbourhood": ("partner", "neighbourhood")}
        by = st.radio("Per", list(views), horizontal=True, key="facts_by")
        st.dataframe(completeness(frame, facts, by=views[by]), hide_index=True, width="stretch")
        st.markdown("**Missing facts that would decide the most \"needs data\" sites** — *decides*: a rule lacks "
                    "only this fact; *helps*: it is among the missing ones.")
        st.dataframe(deciding_facts(frame, facts), hide_index=True, width="stretch")

    # request: partners with the most sites needing data first
    table = completeness(frame, facts)
    partners = table["partner"].tolist()
    waiting = dict(zip(table["partner"], table["needs_data_sites"], strict=True))
    partner = st.selectbox("Partner", partners, key="facts_partner",
                           format_func=lambda p: f"{p} ({waiting[p]:,} sites need data)")
    if st.button("Prepare the data request", key="facts_prepare",
                 help="One row per site the partner has a record on; the facts known are filled in"):
        buffer = io.BytesIO()
        n = write_request(buffer, frame, partner, rules)
        state[REQUEST] = (partner, buffer.getvalue(), n)
    request = state.get(REQUEST)
    if request is not None and request[0] == partner:
        st.download_button(f"Download the data request ({request[2]:,} sites)", request[1],
                           file_name=f"data_request_{_slug(partner)}_{date.today():%Y%m%d}.xlsx", mime=XLSX,
                           key="facts_download")

    missing = missing_partner_types(everything)
    if not missing.empty:
        st.markdown("**No register loaded yet** — send these partners the register template: the same columns and "
                    "checks, no rows. Filled in, it loads under *Load a register* below like any register.")
        columns = st.columns(min(len(missing), 4))
        for i, row in enumerate(missing.itertuples(index=False)):
            columns[i % len(columns)].download_button(
                f"Register template: {row.label}", _template(row.partner_type, row.label, date.today(), _rules_path()),
                file_name=f"register_template_{row.partner_type}.xlsx", mime=XLSX,
                key=f"facts_template_{row.partner_type}")

    if not st.toggle("Load a returned data request", key="facts_return",
                     help="Upload a partner's filled-in workbook: you see every change before anything is written"):
        state.pop(PREVIEW, None)
        return
    if not _auth.may("facts"):  # the store refuses anyway; this only hides the controls
        st.info("Loading returned facts needs the admin role.")
        return
    uploaded = st.file_uploader("Returned workbook (.xlsx)", type=["xlsx"], key="facts_file")
    if uploaded is None:
        state.pop(PREVIEW, None)
        return
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", Path(uploaded.name).name).strip() or "returned.xlsx"
    if state.get(PREVIEW, {}).get("id") != uploaded.file_id:
        try:
            preview = preview_import(store, io.BytesIO(uploaded.getvalue()), rules, file_name=name)
        except ValueError as exc:
            st.error(f"This file cannot be read: {common.md(exc)} Upload the workbook as the partner returned it "
                     "(.xlsx, sheets and headings unchanged); nothing was written.")
            return
        state[PREVIEW] = {"id": uploaded.file_id, "preview": preview}
    preview = state[PREVIEW]["preview"]
    _show(preview)
    if preview.changes.empty:
        st.info("Nothing to write: every value given is already recorded, missing or refused.")
        return
    reason = st.text_input("Reason (kept in the audit trail with the file name)", key="facts_reason",
                           placeholder="e.g. Trafford Council estates return, March 2026")
    if st.button("Confirm: write these facts", key="facts_confirm", type="primary", disabled=not reason.strip()):
        try:
            result = apply_import(store, preview, rules, actor=common.current_actor(), reason=reason)
        except StaleVersionError as exc:
            state.pop(PREVIEW, None)
            st.error(f"{common.md(exc)} The preview has been refreshed: check it and confirm again.")
            return
        common.reload_estate()
        state.pop(PREVIEW, None)
        state[DONE] = (f"Wrote {result.changed_values:,} value(s) on {len(result.versions):,} record(s) from "
                       f"{common.md(preview.file)}. {common.md(result.moves.describe())}")
        st.rerun()


def _show(preview: ImportPreview) -> None:
    """The preview: what matched, what would change, what was refused, where "needs data" would go."""
    matched = int((preview.rows["matched_by"] != "").sum())
    cols = st.columns(4)
    cols[0].metric("Rows matched", f"{matched:,} of {len(preview.rows):,}")
    cols[1].metric("Values to write", f"{len(preview.changes):,}")
    cols[2].metric("Refused", f"{len(preview.refused):,}")
    cols[3].metric("Already recorded", f"{preview.unchanged:,}")
    st.markdown(f"If confirmed: {common.md(preview.moves.describe())}")
    for note in preview.notes:
        st.caption(common.md(note))
    if len(preview.changes):
        st.markdown("**Values that would change** (old → new)")
        st.dataframe(preview.changes[["row", "building_id", "name", "label", "old", "new", "as_written", "note"]]
                     .astype({"old": "string", "new": "string"}), hide_index=True, width="stretch", height=260)
    if len(preview.refused):
        st.markdown("**Refused** (not written), with the reason")
        st.dataframe(preview.refused, hide_index=True, width="stretch", height=200)
    odd = preview.rows[preview.rows["note"] != ""]
    if len(odd):
        st.markdown("**Rows matched another way, or not matched**")
        st.dataframe(odd, hide_index=True, width="stretch", height=200)
