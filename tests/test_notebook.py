"""The analyst notebooks run clean from top to bottom, and are committed without outputs.

Each notebook is executed with nbclient in a kernel started from this very interpreter (the project's venv), through
a throwaway kernelspec: no global Jupyter install or registered kernel is needed, and a ``python3`` kernelspec
elsewhere on the machine cannot be picked up by mistake. Any cell error fails the test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "estates-venv"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def kernel_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KernelManager:
    """A kernel manager whose only kernelspec runs ipykernel in ``sys.executable``."""
    spec = tmp_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (project venv)",
        "language": "python",
    }), "utf-8")
    # The kernel inherits the environment: no plotting window, no store server, the repo importable.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("ESTATES_DATABASE_URL", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    manager = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL, kernel_spec_manager=manager)


def test_there_are_notebooks() -> None:
    assert ROOT / "notebooks" / "overlap_analysis.ipynb" in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: clear the outputs before committing"
            assert cell.execution_count is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_clean(path: Path, kernel_manager: KernelManager) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, km=kernel_manager, timeout=600, allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert all(cell.execution_count for cell in notebook.cells if cell.cell_type == "code")
    if path.name == "overlap_analysis.ipynb":
        text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        assert "areas add back within 0.1%" in text
        assert any("image/png" in o.get("data", {}) for o in outputs)
