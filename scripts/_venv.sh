# Sourced by scripts/run-app and scripts/run-tests: make .venv with Python 3.11 and install a pinned lock file,
# REQUIREMENTS (set by the caller): requirements.txt for the app, requirements-dev.txt (app + tests + tooling) for
# the tests. Both are generated from pyproject.toml by scripts/lock; installing is skipped while the file is unchanged.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON="$candidate"; break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "error: Python 3.11 is needed (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $("$PYTHON" --version)…"
  "$PYTHON" -m venv .venv
fi
REQUIREMENTS="${REQUIREMENTS:-requirements.txt}"
stamp=".venv/.${REQUIREMENTS}.sha256"
want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing the pinned $REQUIREMENTS into .venv…"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$want" > "$stamp"
fi
