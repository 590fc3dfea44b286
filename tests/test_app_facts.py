"""The Data page's partner data requests through Streamlit's AppTest (fast; the browser test clicks the real thing).

A returned workbook is previewed with nothing written, the Confirm button waits for a reason, and the confirmed
import reaches the store with the person's name, the reason and the file in each audit row.
"""

from __future__ import annotations

import getpass
import io
from pathlib import Path

import openpyxl
from streamlit.testing.v1 import AppTest

from estates.classification import DEFAULT_RULES, load_rules
from estates.facts import facts_frame, requested_facts, write_request
from estates.store import open_store

APP = str(Path(__file__).resolve().parent.parent / "pages" / "_shell.py")


def _returned(store_path: Path) -> tuple[bytes, list[str]]:
    """The council's request with utilisation "10%" on two sites that need it, as bytes."""
    rules = load_rules(DEFAULT_RULES)
    buffer = io.BytesIO()
    with open_store(store_path) as store:
        write_request(buffer, facts_frame(store, requested_facts(rules)), "Trafford Council", rules)
    book = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    ws = book["Facts"]
    col = {c.value: c.column for c in ws[1]}
    ids: list[str] = []
    for r in range(2, ws.max_row + 1):
        if "Utilisation" in (ws.cell(r, col["Would be decided by"]).value or "") and len(ids) < 2:
            ws.cell(r, col["Utilisation %"]).value = "10%"
            ids += ws.cell(r, col["Record ids"]).value.split("; ")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), ids


def test_a_return_is_previewed_then_written_only_when_confirmed_with_a_reason(store_path: Path) -> None:
    data, ids = _returned(store_path)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("data.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("records on" in m.value and "sites need data" in m.value for m in at.markdown)
    assert at.selectbox(key="facts_partner").value == "Trafford Council"  # the partner with most sites in need

    at.toggle(key="facts_return").set_value(True).run()
    at.file_uploader(key="facts_file").set_value(("council return.xlsx", data, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]
    text = "\n".join(m.value for m in at.markdown).replace("\\", "")  # markdown escapes, unescaped
    assert "If confirmed: 2 record(s) leave needs data (surplus 2)" in text
    assert at.button(key="facts_confirm").disabled
    with open_store(store_path) as store:
        assert store.buildings(ids=ids, columns=["utilisation_pct"])["utilisation_pct"].isna().all()

    at.text_input(key="facts_reason").set_value("Council return, app test").run()
    at.button(key="facts_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Wrote 2 value(s) on 2 record(s) from council return.xlsx" in s.value.replace("\\", "")
               for s in at.success)
    with open_store(store_path) as store:
        frame = store.buildings(ids=ids, columns=["utilisation_pct"])
        entry = next(e for e in store.history(ids[0]) if e.action == "facts")
    assert (frame["utilisation_pct"] == 10).all()
    assert (frame["effective_status"] == "surplus").all()
    assert (entry.actor, entry.field, entry.to_value) == (getpass.getuser(), "utilisation_pct", "10")
    assert entry.reason.startswith("Council return, app test (from council return.xlsx; row ")
