"""The output files a command writes, checked before it reads anything (shared by ``geocode`` and ``ingest``)."""

from __future__ import annotations

import os
from pathlib import Path

from estates.cli import UserError
from estates.exports import check_table_target

__all__ = ["check_outputs"]


def check_outputs(outputs: dict[str, Path | None], *, reads: Path, force: bool) -> None:
    """Refuse, before any work, outputs that cannot or must not be written.

    Parameters
    ----------
    outputs
        Each output option (``"--out"``) and the file it names (None when not given).
    reads
        The command's input: never an output, even with ``force`` (it would be replaced by the command's result).
    force
        Whether existing files may be overwritten (:func:`estates.exports.check_table_target`).

    Raises
    ------
    UserError
        Two options naming one file, or an output that is the input.
    estates.exports.ExportError
        An output that cannot be written (folder, extension, missing folder, exists without ``force``).
    """
    named = {option: path for option, path in outputs.items() if path is not None}
    seen: dict[str, str] = {}
    for option, path in named.items():
        if _same_file(path, reads):
            raise UserError(f"{option} {path} is the input file; write the result to another file")
        key = os.path.normcase(os.path.abspath(path))
        if key in seen:
            raise UserError(f"{seen[key]} and {option} both name {path}; give two files")
        seen[key] = option
    for path in named.values():
        check_table_target(path, force=force)


def _same_file(path: Path, other: Path) -> bool:
    try:
        return path.exists() and other.exists() and path.samefile(other)
    except OSError:
        return False
