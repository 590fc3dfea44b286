"""The ``--online`` / ``--refresh`` options shared by the commands that geocode, and their progress bar."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from estates.cli import UserError

if TYPE_CHECKING:
    from geo.online import OnlineSettings

__all__ = ["add_online_options", "online_progress_bar", "online_settings"]

#: :data:`geo.online.ENV_PREFIX` (a test keeps them equal): without such a variable, the defaults (offline) hold.
_ENV_PREFIX = "ESTATES_ONLINE_"


def add_online_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--online`` and ``--refresh`` to a command's parser."""
    parser.add_argument("--online", action="store_true",
                        help="fill the gaps of the offline geocoder with postcodes.io / Nominatim (off by default; "
                             "URLs and contact from ESTATES_ONLINE_* settings, see docs/online_geocoding.md)")
    parser.add_argument("--refresh", action="store_true",
                        help="with --online: ask the services again instead of using cached answers")


def online_settings(args: argparse.Namespace) -> OnlineSettings | None:
    """The online settings the options (and ``ESTATES_ONLINE_*``) ask for; ``None`` when geocoding stays offline."""
    if not (args.online or args.refresh or any(name.startswith(_ENV_PREFIX) for name in os.environ)):
        return None  # offline by default: no need to import the online geocoder (start-up time)
    from geo.online import load_online_settings

    try:
        settings = load_online_settings(enabled=True if args.online else None, refresh=True if args.refresh else None)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not settings.enabled:
        if args.refresh:
            raise UserError("--refresh only applies with --online")
        return None
    return settings


@contextmanager
def online_progress_bar(settings: OnlineSettings | None, *, description: str = "online geocoding",
                        ) -> Iterator[Callable[..., None] | None]:
    """A tqdm bar (on an interactive terminal) for online geocoding; yields ``update(done, total[, label])``.

    Yields ``None`` when ``settings`` is ``None`` (offline: nothing to show). ``total`` may change between calls
    (one register after another): the bar then starts again.
    """
    if settings is None:
        yield None
        return
    from tqdm import tqdm

    bars: list[tqdm] = []  # made on the first rows to look up: a register that needs none shows nothing

    def update(done: int, total: int, label: str | None = None) -> None:
        if total == 0:
            return
        if not bars:
            bars.append(tqdm(total=total, unit="row", disable=None, leave=False))
        bar = bars[0]
        if total != bar.total or done < bar.n:
            bar.reset(total=total)
        bar.set_description(f"{description}: {label}"[:48] if label else description, refresh=False)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()
