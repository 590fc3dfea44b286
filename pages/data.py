"""Data: the registers loaded (per partner, with counts), rows needing attention (downloadable), partner types with
no register yet, and the upload of a new register — its column mapping and ingest previewed before anything is
written to the store."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import streamlit as st

from estates.app_data import (
    KEEP_AS_EXTRA,
    attention_rows,
    ingest_into_store,
    mapping_overrides,
    mapping_table,
    missing_partner_types,
    register_counts,
)
from estates.columns import MAPPABLE_FIELDS, ColumnMappingError, recognise_columns
from estates.exports import neutralise_formulas
from estates.ingest import IngestError, ingest_register
from estates.registers import SUPPORTED_SUFFIXES, RegisterError, read_register
from estates.schema import PARTNER_TYPES
from pages import _auth
from pages import _common as common

UPLOAD = "data_upload"  # {"id", "path", "name"} of the uploaded file saved to a temporary folder
PREVIEW = "data_preview"  # the ingest result of the upload, before anything is written
NEW_PARTNER = "New partner…"

place = common.place()
everything = common.estate()
state = st.session_state

st.title("Data: partner registers")
st.caption("The whole store, not filtered by the sidebar.")

counts = register_counts(everything)
metrics = st.columns(4)
metrics[0].metric("Registers", f"{len(counts):,}")
metrics[1].metric("Records", f"{int(counts['rows'].sum()):,}")
metrics[2].metric("Need attention", f"{int(counts['needs_attention'].sum()):,}")
metrics[3].metric("Partners", f"{everything['partner'].nunique():,}")

st.subheader("Registers loaded")
st.dataframe(counts, hide_index=True, width="stretch", column_config={
    "partner": "Partner", "partner_type": "Type", "source_file": "File", "rows": "Rows", "accepted": "Accepted",
    "warned": "With warnings", "rejected": "Rejected", "located": "Located", "needs_attention": "Need attention",
    "historic": st.column_config.CheckboxColumn("Out-of-date source")})

st.subheader("Rows needing attention")
attention = attention_rows(everything)
st.markdown(f"**{len(attention):,}** rows: rejected (not used, e.g. not located) or accepted with warnings "
            "(e.g. only located to a postcode district). Send each partner its rows to fix.")
st.dataframe(attention, hide_index=True, width="stretch", height=300)
st.download_button("Download as CSV", neutralise_formulas(attention).to_csv(index=False).encode("utf-8-sig"),
                   file_name="rows_needing_attention.csv", mime="text/csv")

st.subheader("Partner types with no register yet")
missing = missing_partner_types(everything)
if missing.empty:
    st.success("Every partner type has a register.")
else:
    st.dataframe(missing, hide_index=True, width="stretch",
                 column_config={"partner_type": "Type", "label": "Partner", "note": "Note"})

st.subheader("Load a register")
if not _auth.may("ingest"):  # the store refuses a non-admin's load anyway; this only hides the controls
    st.info("Loading a register needs the admin role.")
    st.stop()
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
    st.error(f"This file cannot be read: {common.md(exc)}")
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

if st.button("Preview the load", key="data_preview_button", disabled=not partner,
             help="Reads, checks, geocodes and tags the rows; writes nothing"):
    with st.spinner("Checking, geocoding and tagging the rows…"):
        try:
            result = ingest_register(path, partner=partner, partner_type=partner_type, mapping=overrides or None,
                                     place=place)
        except IngestError as exc:
            st.error(f"Cannot load this register: {common.md(exc)}")
            st.stop()
    state[PREVIEW] = {"result": result, "partner": partner, "file": state[UPLOAD]["name"]}

preview = state.get(PREVIEW)
if preview is None or preview["partner"] != partner:
    st.stop()
result = preview["result"]
summary = result.summary
existing = set(everything["building_id"])
new_ids = set(result.records["building_id"]) - existing
cols = st.columns(5)
cols[0].metric("Rows", f"{summary['rows']:,}")
cols[1].metric("Accepted", f"{summary['accepted']:,}")
cols[2].metric("With warnings", f"{summary['warned']:,}")
cols[3].metric("Rejected", f"{summary['rejected']:,}")
cols[4].metric("New buildings", f"{len(new_ids):,}", help="The others update records already in the store")
st.dataframe(result.records[[c for c in ("building_id", "name", "postcode", "geocode_precision", "neighbourhood",
                                         "outcome", "issues") if c in result.records]],
             hide_index=True, width="stretch", height=260)
confirm = st.checkbox(f"Write these {summary['rows']:,} rows for {common.md(partner)} to the store",
                      key="data_confirm")
if st.button("Write to the store", key="data_write", type="primary", disabled=not confirm):
    bar = st.progress(0.0, text="Saving")
    outcome = ingest_into_store(common.store(), result.records, actor=common.current_actor(),
                                source=preview["file"],
                                progress=lambda label, done: bar.progress(done, text=label))
    state.pop(PREVIEW, None)
    common.reload_estate()  # site matching changed other buildings' sites too (not audited)
    st.success(f"Loaded {common.md(preview['file'])}: {outcome['inserted']:,} new, "
               f"{outcome['updated']:,} updated, "
               f"{outcome['unchanged']:,} unchanged; {outcome['rule_changes']:,} statuses changed by the rules.")
