"""Data: the registers loaded (per partner, with counts), rows needing attention (downloadable), partner types with
no register yet, and the upload of a new register — its column mapping and ingest previewed before anything is
written to the store. A preview that looks missing locations up online runs in the background
(``estates.app_jobs``): a fragment polls it, so the page and the rest of the app stay usable meanwhile."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import streamlit as st

from estates.app_data import (
    KEEP_AS_EXTRA,
    attention_rows,
    mapping_overrides,
    mapping_table,
    missing_partner_types,
    register_counts,
)
from estates.app_jobs import IngestJob, describe_online_run, online_disclosure, start_ingest_job
from estates.exports import neutralise_formulas
from estates.ingest import IngestError, IngestResult, ingest_register
from estates.ingest.columns import MAPPABLE_FIELDS, ColumnMappingError, recognise_columns
from estates.ingest.registers import SUPPORTED_SUFFIXES, RegisterError, read_register
from estates.schema import PARTNER_TYPES
from estates.service import ingest_into_store
from geo.online import OnlineSettings, load_online_settings
from pages import _auth
from pages import _common as common
from pages._facts import section as facts_section
from pages._tables import show_table

UPLOAD = "data_upload"  # {"id", "path", "name"} of the uploaded file saved to a temporary folder
PREVIEW = "data_preview"  # the ingest result of the upload, before anything is written
ONLINE_JOB = "data_online_job"  # IngestJob of a preview with online lookups: running, or done and shown until written
ONLINE_NOTE = "data_online_note"  # why the last online preview ended without a result: ("error" | "info", text)
NEW_PARTNER = "New partner…"
POLL_S = 0.5  # how often the progress fragment looks at a running job

PREVIEW_COLUMNS = ("building_id", "name", "postcode", "geocode_precision", "neighbourhood", "outcome", "issues")

place = common.place()
whole = common.estate()
everything = whole.records
rejected = common.store().rejected_rows(place=place.slug)
state = st.session_state

st.title("Data: partner registers")
st.caption("The whole store, not filtered by the sidebar.")

counts = register_counts(everything, rejected)
st.markdown(whole.caption() + f"; {len(rejected):,} rejected rows kept with their loads (never on the map).")
metrics = st.columns(5)
metrics[0].metric("Registers", f"{len(counts):,}")
metrics[1].metric("Sites", f"{len(whole.sites):,}")
metrics[2].metric("Records", f"{len(everything):,}")
metrics[3].metric("Need attention", f"{int(counts['needs_attention'].sum()):,}")
metrics[4].metric("Rejected rows", f"{len(rejected):,}")

st.subheader("Registers loaded")
show_table(counts, column_config={
    "partner": "Partner", "partner_type": "Type", "source_file": "File", "rows": "Rows", "accepted": "Accepted",
    "warned": "With warnings", "rejected": "Rejected", "located": "Located", "needs_attention": "Need attention",
    "historic": st.column_config.CheckboxColumn("Out-of-date source")})

st.subheader("Rows needing attention")
attention = attention_rows(everything, rejected)
st.markdown(f"**{len(attention):,}** rows: rejected (kept with their load, never part of the estate, e.g. not "
            "located) or accepted with warnings (e.g. only located to a postcode district). Send each partner its "
            "rows to fix, then load the corrected file again: its rejected rows are replaced.")
show_table(attention, height=300)
st.download_button("Download as CSV", neutralise_formulas(attention).to_csv(index=False).encode("utf-8-sig"),
                   file_name="rows_needing_attention.csv", mime="text/csv")

st.subheader("Partner types with no register yet")
missing = missing_partner_types(everything)
if missing.empty:
    st.success("Every partner type has a register.")
else:
    st.dataframe(missing, hide_index=True, width="stretch",
                 column_config={"partner_type": "Type", "label": "Partner", "note": "Note"})

facts_section(everything)


def preview_counts(result: IngestResult) -> None:
    """How many rows an ingest would load, and how (nothing written yet)."""
    summary = result.summary
    accepted = result.records[result.records["outcome"].astype("str") != "rejected"]
    new_ids = set(accepted["building_id"]) - set(everything["building_id"])
    cols = st.columns(5)
    cols[0].metric("Rows", f"{summary['rows']:,}")
    cols[1].metric("Accepted", f"{summary['accepted']:,}")
    cols[2].metric("With warnings", f"{summary['warned']:,}")
    cols[3].metric("Rejected", f"{summary['rejected']:,}")
    cols[4].metric("New records", f"{len(new_ids):,}", help="The others update records already in the store; "
                   "rejected rows are kept with the load, never added to the estate")


def preview_rows(result: IngestResult, columns: tuple[str, ...] = PREVIEW_COLUMNS) -> None:
    """The rows an ingest would load, with their outcome and reasons."""
    show_table(result.records[[c for c in columns if c in result.records]], height=260)


def write_to_store(result: IngestResult, partner: str, file_name: str, *, key: str) -> bool:
    """The confirmation and the button that write a previewed register; True once written."""
    rows = result.summary["rows"]
    confirm = st.checkbox(f"Write these {rows:,} rows for {common.md(partner)} to the store", key=f"{key}_confirm")
    if not st.button("Write to the store", key=f"{key}_write", type="primary", disabled=not confirm):
        return False
    bar = st.progress(0.0, text="Saving")
    outcome = ingest_into_store(common.store(), result.records, actor=common.current_actor(), source=file_name,
                                progress=lambda label, done: bar.progress(done, text=label))
    common.reload_estate()  # site matching changed other records' sites too (not audited)
    st.success(f"Loaded {common.md(file_name)}: {outcome['inserted']:,} new, {outcome['updated']:,} updated, "
               f"{outcome['unchanged']:,} unchanged, {outcome['rejected']:,} rejected (kept with the load, not in "
               f"the estate); {outcome['sites']:,} sites; {outcome['rule_changes']:,} rule suggestions changed.")
    return True


@st.fragment(run_every=POLL_S)
def job_progress(job: IngestJob) -> None:
    """A running job's progress element and Cancel button, refreshed every ``POLL_S`` without rerunning the page."""
    if job.finished:
        st.rerun()  # the whole page: it shows the preview, or why there is none
    progress = job.progress()
    st.progress(progress.fraction, text=progress.text)
    if st.button("Cancel", key="data_online_cancel", disabled=progress.cancel_requested,
                 help="Stops before the next lookup; answers already received stay cached. Nothing is written."):
        job.cancel()
        st.rerun(scope="fragment")  # show "Cancelling…" now rather than at the next poll


def show_online_job(job: IngestJob) -> None:
    """A preview with online lookups: its progress while it runs, then its result with Write and Discard."""
    st.markdown(f"Previewing **{common.md(job.file_name)}** for **{common.md(job.partner)}**, with missing "
                "locations looked up online.")
    if not job.finished:
        st.caption("This runs in the background: you can use the rest of the app meanwhile and come back here for "
                   "the result. Nothing is written to the store.")
        job_progress(job)
        return
    result = job.result
    assert result is not None  # failed and cancelled jobs were turned into a note before this is called
    preview_counts(result)
    if result.online is not None:
        online = result.online
        cols = st.columns(4)
        cols[0].metric("Looked up online", f"{online.rows_considered:,}")
        cols[1].metric("Located online", f"{online.rows_located:,}")
        cols[2].metric("Not found", f"{online.rows_not_found + online.rows_rejected:,}",
                       help="Not known to the services, or found too far from the area; offline result kept")
        cols[3].metric("Failed", f"{online.rows_failed:,}", help="A service did not answer; offline result kept")
        st.markdown(common.md(describe_online_run(online)))
        with st.expander("Online lookup details"):
            st.code("\n".join(online.lines()), language=None)
    preview_rows(result, (*PREVIEW_COLUMNS[:4], "geocode_method", *PREVIEW_COLUMNS[4:]))
    if write_to_store(result, job.partner, job.file_name, key="data_online"):
        state.pop(ONLINE_JOB, None)
    elif st.button("Discard this preview", key="data_online_discard", help="Upload the file again to start over"):
        state.pop(ONLINE_JOB, None)
        st.rerun()


st.subheader("Load a register")
if not _auth.may("ingest"):  # the store refuses a non-admin's load anyway; this only hides the controls
    st.info("Loading a register needs the admin role.")
    st.stop()

job: IngestJob | None = state.get(ONLINE_JOB)
if job is not None and job.state in ("failed", "cancelled"):
    state.pop(ONLINE_JOB)
    if job.state == "failed":
        state[ONLINE_NOTE] = ("error", f"Cannot load this register: {common.md(job.error)} Correct the file, or "
                                       "preview it again with online lookups off; nothing was written.")
    else:
        state[ONLINE_NOTE] = ("info", f"Preview of {common.md(job.file_name)} cancelled; nothing was written.")
    job = None
if job is not None:
    # The job keeps its own file, partner and result, so it survives leaving the page (the uploader does not).
    show_online_job(job)
    st.stop()
note = state.pop(ONLINE_NOTE, None)
if note is not None:
    (st.error if note[0] == "error" else st.info)(note[1])

st.markdown("Upload a partner's register (CSV, Excel, GeoJSON or GeoPackage). You will see how its columns are "
            "read and what would be loaded **before anything is written**. Loading a corrected register again "
            "updates its records (ids are stable); people's decisions are kept.")
uploaded = st.file_uploader("Register file", type=[s.lstrip(".") for s in SUPPORTED_SUFFIXES], key="data_file")
if uploaded is None:
    state.pop(UPLOAD, None)
    state.pop(PREVIEW, None)
    st.stop()

if state.get(UPLOAD, {}).get("id") != uploaded.file_id:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(uploaded.name).name).strip("._") or "register.csv"
    path = Path(tempfile.mkdtemp(prefix="estates-upload-")) / safe
    path.write_bytes(uploaded.getvalue())
    state[UPLOAD] = {"id": uploaded.file_id, "path": str(path), "name": safe}
    state.pop(PREVIEW, None)
path = Path(state[UPLOAD]["path"])

try:
    raw = read_register(path)
    recognised = recognise_columns(raw.frame.columns)
except (RegisterError, ColumnMappingError) as exc:
    st.error(f"This file cannot be read: {common.md(exc)} Save it again as CSV (UTF-8), Excel, GeoJSON or "
             "GeoPackage with the column names in one row, then upload it again.")
    st.stop()
st.markdown(f"**{len(raw):,}** rows read as {raw.format.upper()}" +
            (f"; {common.md('; '.join(raw.notes))}" if raw.notes else ""))

partners = sorted(everything["partner"].dropna().unique(), key=str.casefold)
who = st.columns(2)
choice = who[0].selectbox("Partner", [NEW_PARTNER, *partners], key="data_partner_choice")
if choice == NEW_PARTNER:
    partner = who[0].text_input("New partner's name", key="data_partner_name").strip()
    type_index = 0
else:
    partner = choice
    known_type = everything.loc[everything["partner"] == choice, "partner_type"].iloc[0]
    type_index = PARTNER_TYPES.index(known_type) if known_type in PARTNER_TYPES else 0
partner_type = who[1].selectbox("Partner type", PARTNER_TYPES, index=type_index, key=f"data_type_{choice}")

st.markdown("**Column mapping** — change *Maps to* where a column was read wrongly; unmapped columns are kept "
            "as extra attributes.")
table = st.data_editor(
    mapping_table(raw.frame, recognised), hide_index=True, width="stretch", key=f"data_mapping_{uploaded.file_id}",
    disabled=["column", "examples"],
    column_config={"column": "Register column", "examples": "Examples",
                   "maps_to": st.column_config.SelectboxColumn("Maps to", options=[KEEP_AS_EXTRA, *MAPPABLE_FIELDS],
                                                               required=True)})
overrides = mapping_overrides(table, recognised)

# Off unless an admin enabled it by setting (ESTATES_ONLINE_ENABLED): the tool must work on a locked-down network.
online_settings: OnlineSettings | None
try:
    online_settings = load_online_settings()
except ValueError as exc:
    online_settings = None
    st.error(f"Online lookups are unavailable: their settings ({common.md('ESTATES_ONLINE_…')} environment "
             f"variables) cannot be read: {common.md(exc)} Ask the administrator to correct them "
             "(docs/online_geocoding.md); offline geocoding works meanwhile.")
# Both services switched off in the settings is how an admin rules lookups out altogether.
online_possible = online_settings is not None and (online_settings.use_postcodes_io or online_settings.use_nominatim)
switched_on = st.toggle("Look up missing locations online", key="data_online",
                        value=online_possible and online_settings.enabled, disabled=not online_possible,
                        help="For rows the offline postcode table cannot place, or places only roughly")
if online_settings is not None:
    st.caption(common.md(online_disclosure(online_settings)))

if st.button("Preview the load", key="data_preview_button", disabled=not partner,
             help="Reads, checks, geocodes and tags the rows; writes nothing"):
    if switched_on and online_possible and online_settings is not None:
        state.pop(PREVIEW, None)
        state[ONLINE_JOB] = start_ingest_job(path, partner=partner, partner_type=partner_type,
                                             mapping=overrides or None, place=place,
                                             online=online_settings.replace(enabled=True),
                                             file_name=state[UPLOAD]["name"])
        st.rerun()  # the job's panel replaces the form until it has a result
    with st.spinner("Checking, geocoding and tagging the rows…"):
        try:
            result = ingest_register(path, partner=partner, partner_type=partner_type, mapping=overrides or None,
                                     place=place)
        except IngestError as exc:
            st.error(f"Cannot load this register: {common.md(exc)} Correct the file or the column mapping above, "
                     "then press *Preview the load* again; nothing was written.")
            st.stop()
    state[PREVIEW] = {"result": result, "partner": partner, "file": state[UPLOAD]["name"]}

preview = state.get(PREVIEW)
if preview is None or preview["partner"] != partner:
    st.stop()
preview_counts(preview["result"])
preview_rows(preview["result"])
if write_to_store(preview["result"], partner, preview["file"], key="data"):
    state.pop(PREVIEW, None)
