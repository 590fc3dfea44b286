"""Sub-commands of ``python -m estates``; importing this package registers them with :mod:`estates.cli`."""

from estates.commands import geocode  # noqa: F401
