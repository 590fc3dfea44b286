"""What changed: the audit trail as a feed — who changed what, when and why — filtered by dates (the last 7 days
by default), person, partner, neighbourhood and kind of change; each row links to its site on Classify; downloads
as CSV and XLSX. A bulk change is one row with its counts; select it to list every site it touched.

The feed is :func:`estates.service.change_feed`; this page only draws it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import streamlit as st

from estates.exports import MIME_TYPES, export_filename, table_bytes
from estates.service import CHANGE_KINDS, LOCAL_TIME, change_feed
from pages import _common as common

#: Days shown until the person picks others (today and the six before).
DEFAULT_DAYS = 7
TABLE = "changes_table"

COLUMN_CONFIG = {
    "When": st.column_config.DatetimeColumn("When (UK time)", format="ddd D MMM YYYY, HH:mm", width=165),
    "Who": st.column_config.TextColumn(width=120),
    "Change": st.column_config.TextColumn(width=125),
    "Site": st.column_config.TextColumn(width=270),
    "Open": st.column_config.LinkColumn("Link", display_text="Open ↗", width=70,
                                        help="The site on the Classify page (in a new tab), selected"),
    "Sites": st.column_config.NumberColumn(format="localized", width=60),
    "Records": st.column_config.NumberColumn(format="localized", width=70),
    "From → to": st.column_config.TextColumn(width=330),
    "Reason": st.column_config.TextColumn(width=220),
}
SHOWN = ("When", "Who", "Change", "Site", "Open", "Sites", "Records", "From → to", "Reason", "Partners",
         "Neighbourhood", "Site id")

place = common.place()
whole = common.estate()
store = common.store()
state = st.session_state
today = datetime.now(LOCAL_TIME).date()


def _period() -> tuple[date, date]:
    """The chosen days (a range being picked has one day so far: that day alone)."""
    chosen = state.get("changes_dates") or (today - timedelta(days=DEFAULT_DAYS - 1), today)
    first = chosen[0]
    return first, chosen[1] if len(chosen) > 1 else first


def _with_links(feed: pd.DataFrame) -> pd.DataFrame:
    links = [common.site_link(s) if s else None for s in feed["Site id"]]
    return feed.assign(Open=links)


st.title("What changed")
st.markdown("Every change saved in the store — people's decisions, register loads and rule runs — newest first. "
            "A change to many sites at once is one row; select a row to list its sites.")

term = place.neighbourhood_term.capitalize()
COLUMN_CONFIG["Neighbourhood"] = st.column_config.TextColumn(term)  # the place's own word for its areas
row = st.columns([3, 3, 3, 2, 3], gap="small")
row[0].date_input("Dates (UK time)", value=(today - timedelta(days=DEFAULT_DAYS - 1), today), key="changes_dates",
                  max_value=today, format="DD/MM/YYYY")
since, until = _period()
period = change_feed(store, since=since, until=until, estate=whole)
people = sorted(set(period["Who"]) | set(state.get("changes_people", [])), key=str.casefold)
row[1].multiselect("Who", people, key="changes_people", placeholder="Everyone")
partners = sorted(whole.records["partner"].dropna().astype("str").unique(), key=str.casefold)
row[2].multiselect("Partner", partners, key="changes_partners", placeholder="All partners")
hoods = sorted(whole.sites["neighbourhood"].dropna().astype("str").unique())
row[3].multiselect(term, hoods, key="changes_hoods", placeholder="All")
row[4].multiselect("Kind of change", list(CHANGE_KINDS), key="changes_kinds", placeholder="Every kind")

chosen = {"people": state.get("changes_people", []), "partners": state.get("changes_partners", []),
          "neighbourhoods": state.get("changes_hoods", []), "kinds": state.get("changes_kinds", [])}
feed = change_feed(store, since=since, until=until, estate=whole, **chosen) if any(chosen.values()) else period
days = f"{since:%a %-d %b %Y}" + (f" to {until:%a %-d %b %Y}" if until != since else "")
of = f" of {len(period):,} in the period" if any(chosen.values()) else ""
st.markdown(f"**{len(feed):,}** change{'s' if len(feed) != 1 else ''}{of}, {days} (UK time). "
            "The sidebar's filters do not narrow this feed; these do.")

if feed.empty:
    st.info("Nothing changed with these filters in these days: widen the dates or clear a filter.")
    st.stop()

view = _with_links(feed)
picked = st.dataframe(view[list(SHOWN)], key=TABLE, on_select="rerun", selection_mode="single-row",
                      hide_index=True, width="stretch", height=min(38 + 35 * len(view), 560),
                      column_config=COLUMN_CONFIG)
downloads = st.columns([1, 1, 6], gap="small")
kind = f"changes-{since:%Y%m%d}-{until:%Y%m%d}"
for column, fmt, label in ((downloads[0], "csv", "Download CSV"), (downloads[1], "xlsx", "Download Excel")):
    # Built when pressed, not on every run (the spreadsheet writer is the slow part).
    column.download_button(label, lambda fmt=fmt: table_bytes(feed, fmt, kind=kind, sheet="What changed",
                                                              place=place).data,
                           file_name=export_filename(kind, fmt, place=place), mime=MIME_TYPES[fmt],
                           key=f"changes_{fmt}", icon=":material/download:")

rows = picked.selection.rows if picked is not None else []
if not rows:
    st.caption("Select a row to list every site the change touched, each with its link.")
    st.stop()
change = feed.iloc[rows[0]]
st.subheader(f"{change['Change'].capitalize()} by {common.md(change['Who'])}, "
             f"{change['When']:%a %-d %b %Y %H:%M}")
st.markdown(f"**Why:** {common.md(change['Reason'] or '–')}  \n**From → to:** {common.md(change['From → to'])}")
sites = change_feed(store, since=since, until=until, estate=whole, people=[change["Who"]], kinds=[change["Change"]],
                    by="site")
sites = _with_links(sites[sites["Change id"] == change["Change id"]])
st.markdown(f"{len(sites):,} site{'s' if len(sites) != 1 else ''}, {int(sites['Records'].sum()):,} records:")
st.dataframe(sites[["Site", "Open", "Records", "From → to", "Partners", "Neighbourhood", "Site id"]],
             hide_index=True, width="stretch", height=min(38 + 35 * len(sites), 420), column_config=COLUMN_CONFIG)
first = sites[sites["Site id"] != ""].head(1)
for site in first.itertuples(index=False):
    st.markdown(f"[Open {common.md(site.Site)} in Classify]({site.Open})")
