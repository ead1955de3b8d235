"""The example notebooks run from top to bottom; their cells assert what they show."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(name: str):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": EXAMPLES}}
    ).execute()
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    pictures = [output for output in outputs if "image/png" in output.get("data", {})]
    clouds = [
        output for output in outputs if "application/vnd.plotly.v1+json" in output.get("data", {})
    ]
    printed = "".join(output.get("text", "") for output in outputs)
    return pictures, clouds, printed


@pytest.mark.slow
def test_walkthrough_notebook_runs():
    pictures, clouds, printed = _run("walkthrough.ipynb")
    # swatches x2, the quantized image, the k-grid, the elbow, the before/after: once each
    assert len(pictures) == 6
    assert len(clouds) == 3
    assert "centroid" in printed and "smaller" in printed


@pytest.mark.slow
def test_the_colour_compression_walkthrough_runs_with_kpalettes_kmeans():
    pictures, clouds, printed = _run("color_compression_kmeans.ipynb")
    # the photo, k = 1, three swatches, k = 3, the grid; the clouds by pixel, with the
    # centroid, by cluster
    assert len(pictures) == 7
    assert len(clouds) == 3
    assert "column means:  [" in printed and "cluster centers:  [[" in printed


@pytest.mark.slow
def test_the_image_compression_walkthrough_runs_with_kpalettes_kmeans():
    pictures, clouds, printed = _run("image_compression_kmeans.ipynb")
    assert len(pictures) == 2 and not clouds
    sizes = [line for line in printed.splitlines() if line.startswith("size of")]
    assert len(sizes) == 5
