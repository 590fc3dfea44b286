"""Background jobs for the app: a register preview whose online geocoding runs off the page's script thread.

Streamlit runs a page's script again on every click, in one thread per session. A preview that looks addresses up on
Nominatim (at most one request a second on the public server: a few minutes for a council register) must not hold
that thread, or the page freezes until it ends. :func:`start_ingest_job` runs :func:`estates.ingest.ingest_register`
in a daemon thread and returns an :class:`IngestJob`: the page keeps it in its session state and polls
:meth:`IngestJob.progress` from a fragment that reruns every half second, and shows :attr:`IngestJob.result` when it
is done. :func:`online_disclosure` and :func:`describe_online_run` are the texts beside the switch and after a run.

Nothing here imports Streamlit, so it is tested with a real thread against a local HTTP server
(``tests/test_app_jobs.py``).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from estates.ingest import IngestError, IngestResult, ingest_register

if TYPE_CHECKING:
    from geo.online import OnlineSettings, OnlineSummary

__all__ = [
    "METHOD_LABELS",
    "IngestJob",
    "JobCancelled",
    "JobProgress",
    "JobStage",
    "JobState",
    "describe_online_run",
    "online_disclosure",
    "start_ingest_job",
]

_log = logging.getLogger(__name__)

JobState = Literal["running", "done", "failed", "cancelled"]
"""``running`` until the worker ends; then ``done`` (a result), ``failed`` (an error) or ``cancelled``."""

JobStage = Literal["offline", "online", "finishing", "ended"]
"""Where a running job is: reading and geocoding offline, looking rows up online, tagging and checking, ended."""

#: Readable names of the online ``geocode_method`` values (see docs/online_geocoding.md).
METHOD_LABELS: dict[str, str] = {
    "online_postcodes_io": "postcodes.io",
    "online_postcodes_io_terminated": "postcodes.io (terminated postcode)",
    "online_nominatim": "Nominatim",
}

_job_numbers = itertools.count(1)


class JobCancelled(Exception):
    """Raised in the worker by the progress callback of a cancelled job, to stop it between two lookups."""


@dataclass(frozen=True)
class JobProgress:
    """A snapshot of a job, for the page's progress element.

    Attributes
    ----------
    state
        See :data:`JobState`.
    stage
        See :data:`JobStage`.
    done, total
        Rows finished out of the rows that need online help (``total`` is 0 until the online step starts).
    elapsed_s
        Seconds since the job started (until it ended, once it has).
    cancel_requested
        Whether :meth:`IngestJob.cancel` was called.
    """

    state: JobState
    stage: JobStage
    done: int
    total: int
    elapsed_s: float
    cancel_requested: bool = False

    @property
    def fraction(self) -> float:
        """Share of the work done, 0–1, for a progress bar (the online lookups are the slow part)."""
        if self.stage == "offline":
            return 0.0
        if self.stage == "online" and self.total:
            return min(max(self.done / self.total, 0.0), 1.0)
        return 1.0

    @property
    def text(self) -> str:
        """What the job is doing, in words: e.g. "Looking up 12 of 241 rows online…"."""
        if self.state == "running" and self.cancel_requested:
            return "Cancelling after the lookup in progress…"
        if self.state != "running":
            return {"done": "Finished", "failed": "Failed", "cancelled": "Cancelled"}[self.state]
        if self.stage == "online":
            return f"Looking up {self.done:,} of {self.total:,} rows online…"
        if self.stage == "finishing":
            return "Tagging and checking the rows…"
        return "Reading, checking and geocoding the rows offline…"


class IngestJob:
    """One register preview (:func:`~estates.ingest.ingest_register`) running in a background thread.

    Create it with :func:`start_ingest_job`. Every method is safe to call from any thread; the page's script thread
    only ever reads a snapshot, so it never waits for the worker.

    Parameters
    ----------
    path
        The register file.
    partner, partner_type
        Who holds it.
    mapping
        Column mapping overrides, as for :func:`~estates.ingest.ingest_register`.
    place
        Place slug or :class:`geo.place.Place` (default: the current place).
    online
        Online geocoding settings; ``None`` or ``enabled=False`` ingests offline only.
    file_name
        The name to show and record (default: the file's name).
    ingest
        The ingest function (tests may pass a slower or failing one).

    Attributes
    ----------
    path, partner, partner_type, file_name
        As given.
    online_enabled
        Whether the job looks rows up online.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        partner: str,
        partner_type: str,
        mapping: Mapping[str, object] | None = None,
        place: object | None = None,
        online: OnlineSettings | None = None,
        file_name: str | None = None,
        ingest: Callable[..., IngestResult] = ingest_register,
    ) -> None:
        self.path = Path(path)
        self.partner = partner
        self.partner_type = partner_type
        self.file_name = file_name or self.path.name
        self.online_enabled = online is not None and online.enabled
        self._arguments: dict[str, Any] = {"partner": partner, "partner_type": partner_type, "mapping": mapping,
                                           "place": place, "online": online}
        self._ingest = ingest
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._ended = threading.Event()
        self._state: JobState = "running"
        self._stage: JobStage = "offline"
        self._done = 0
        self._total = 0
        self._result: IngestResult | None = None
        self._error: str | None = None
        self._started = time.monotonic()
        self._finished_at: float | None = None
        # A daemon thread: a preview nobody waits for any more must not keep the server from stopping.
        self._thread = threading.Thread(target=self._run, name=f"estates-ingest-{next(_job_numbers)}", daemon=True)

    # ------------------------------------------------------------------------------------------------ control

    def start(self) -> IngestJob:
        """Start the worker thread (once); returns the job."""
        self._started = time.monotonic()
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the job to stop.

        The online step stops before its next lookup (a request already sent is waited for, at most the
        timeout); answers received so far stay in the cache. A job that ends anyway is ``cancelled`` and has no
        result. Ingest before and after the online step (reading, offline geocoding, tagging: a second or two)
        cannot be interrupted: the cancel takes effect when it ends.
        """
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job has ended (for tests and scripts, never the page); True if it has."""
        return self._ended.wait(timeout)

    # ------------------------------------------------------------------------------------------------- state

    @property
    def finished(self) -> bool:
        """Whether the worker has ended (done, failed or cancelled)."""
        return self._ended.is_set()

    @property
    def cancel_requested(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancel.is_set()

    @property
    def state(self) -> JobState:
        """See :data:`JobState`."""
        with self._lock:
            return self._state

    @property
    def result(self) -> IngestResult | None:
        """The ingest result once the job is ``done``; ``None`` before and otherwise."""
        with self._lock:
            return self._result

    @property
    def error(self) -> str | None:
        """Why the job ``failed`` (the ingest's message for the user); ``None`` otherwise."""
        with self._lock:
            return self._error

    def progress(self) -> JobProgress:
        """A consistent snapshot of the job's state and counters."""
        with self._lock:
            end = self._finished_at if self._finished_at is not None else time.monotonic()
            return JobProgress(state=self._state, stage=self._stage, done=self._done, total=self._total,
                               elapsed_s=end - self._started, cancel_requested=self._cancel.is_set())

    # ------------------------------------------------------------------------------------------------ worker

    def _on_progress(self, done: int, total: int) -> None:
        # Called by the online geocoder in the worker thread after each finished lookup: the one place a job can
        # stop cleanly (no request in flight, every answer so far cached, the HTTP session closed on the way out).
        if self._cancel.is_set():
            raise JobCancelled
        with self._lock:
            self._done, self._total = done, total
            self._stage = "online" if done < total else "finishing"

    def _run(self) -> None:
        try:
            result = self._ingest(self.path, online_progress=self._on_progress, **self._arguments)
        except JobCancelled:
            self._end("cancelled")
        except IngestError as exc:
            self._end("failed", error=str(exc))
        # Anything else too: an uncaught error would end the thread silently and leave the page polling forever.
        except Exception as exc:
            _log.exception("register preview of %s failed", self.file_name)
            self._end("failed", error=f"unexpected error: {type(exc).__name__}: {exc}")
        else:
            if self._cancel.is_set():  # cancelled too late to stop it: the person no longer wants the result
                self._end("cancelled")
            else:
                self._end("done", result=result)

    def _end(self, state: JobState, *, result: IngestResult | None = None, error: str | None = None) -> None:
        with self._lock:
            self._state, self._stage = state, "ended"
            self._result, self._error = result, error
            self._finished_at = time.monotonic()
        self._ended.set()


def start_ingest_job(
    path: str | Path,
    *,
    partner: str,
    partner_type: str,
    mapping: Mapping[str, object] | None = None,
    place: object | None = None,
    online: OnlineSettings | None = None,
    file_name: str | None = None,
) -> IngestJob:
    """Start previewing a register in a background thread; see :class:`IngestJob` for the parameters.

    Returns
    -------
    IngestJob
        Running; poll :meth:`IngestJob.progress` and read :attr:`IngestJob.result` once it is finished.

    Examples
    --------
    >>> job = start_ingest_job(path, partner="Trafford Council", partner_type="council",  # doctest: +SKIP
    ...                        online=load_online_settings(enabled=True))
    >>> job.progress().text  # doctest: +SKIP
    'Looking up 12 of 241 rows online…'
    """
    return IngestJob(path, partner=partner, partner_type=partner_type, mapping=mapping, place=place, online=online,
                     file_name=file_name).start()


# -------------------------------------------------------------------------------------------------------- texts


def online_disclosure(settings: OnlineSettings) -> str:
    """What an online lookup would send where, in one short paragraph of plain text (escape it for Markdown).

    Parameters
    ----------
    settings
        The online settings the lookup would use (the URLs, the per-service switches, the cache).

    Returns
    -------
    str
        E.g. "Sends to postcodes.io (https://api.postcodes.io): full postcodes the offline postcode table does not
        have. Sends to Nominatim (https://nominatim.openstreetmap.org): the name, street and town of rows still not
        placed, and the area's bounding box. …"
    """
    parts = []
    if settings.use_postcodes_io:
        parts.append(f"Sends to postcodes.io ({settings.postcodes_io_url}): full postcodes the offline postcode "
                     "table does not have.")
    if settings.use_nominatim:
        parts.append(f"Sends to Nominatim ({settings.nominatim_url}): the name, street and town of rows still not "
                     "placed, and the area's bounding box.")
    if not parts:
        return "Both online services are switched off in the settings: nothing would be sent."
    parts.append("Nothing else from the register is sent.")
    parts.append(f"Answers are cached ({settings.effective_cache_path}), so nothing is asked twice.")
    if settings.use_nominatim and settings.nominatim_min_interval_s >= 1:
        parts.append(f"Addresses take about {settings.nominatim_min_interval_s:g} s each the first time.")
    return " ".join(parts)


def describe_online_run(summary: OnlineSummary) -> str:
    """One sentence on what an online run did: rows looked up, located by service, not found, rejected, failed.

    Parameters
    ----------
    summary
        :attr:`estates.ingest.IngestResult.online`.

    Returns
    -------
    str
        Plain text (escape it for Markdown), e.g. "241 rows looked up online: 5 located (Nominatim 5), 234 not
        found, 2 too far from the area, 0 failed (offline result kept)."
    """
    if not summary.enabled:
        return "Online lookups were off."
    by_method = ", ".join(f"{METHOD_LABELS.get(method, method)} {count:,}"
                          for method, count in sorted(summary.located.items()))
    located = f"{summary.rows_located:,} located" + (f" ({by_method})" if by_method else "")
    rejected = f", {summary.rows_rejected:,} too far from the area" if summary.rows_rejected else ""
    return (f"{summary.rows_considered:,} of {summary.rows:,} rows looked up online: {located}, "
            f"{summary.rows_not_found:,} not found{rejected}, {summary.rows_failed:,} failed (offline result kept).")
