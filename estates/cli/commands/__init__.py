"""Sub-commands of ``python -m estates``; importing this package registers them with :mod:`estates.cli`."""

from estates.cli.commands import (  # noqa: F401
    access,
    changes,
    export,
    facts,
    geocode,
    ingest,
    match,
    pipeline,
    place,
    store,
)
