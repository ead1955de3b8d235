"""examples/walkthrough.ipynb runs from top to bottom; its cells assert what they show."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "walkthrough.ipynb"


@pytest.mark.slow
def test_walkthrough_notebook_runs(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    pictures = [output for output in outputs if "image/png" in output.get("data", {})]
    clouds = [
        output for output in outputs if "application/vnd.plotly.v1+json" in output.get("data", {})
    ]
    # swatches x2, the quantized image, the k-grid, the elbow, the before/after: once each
    assert len(pictures) == 6
    assert len(clouds) == 3
    printed = "".join(output.get("text", "") for output in outputs)
    assert "centroid" in printed and "smaller" in printed
