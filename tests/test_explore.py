"""The explore page: its content, that it is self-contained, and that Chromium renders it."""

from __future__ import annotations

import re

import numpy as np
import pytest

from browser import CHROMIUM, CHROMIUM_ARGS, require_browser
from kpalette.data import sample_image_path
from kpalette.explore import build_report


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    page, facts = build_report(sample_image_path())
    path = tmp_path_factory.mktemp("report") / "coffee-explore.html"
    path.write_text(page, encoding="utf-8")
    return path, page, facts


def test_page_has_every_part(report):
    _, page, facts = report
    for part in ("original", "k-grid", "swatches", "cloud-pixel", "cloud-cluster", "elbow"):
        assert f"id='{part}'" in page or f'id="{part}"' in page, part
    table = re.search(r"<table id='k-table'>(.*?)</table>", page).group(1)
    ks = [int(k) for k in re.findall(r"<tr[^>]*><td>(\d+)</td>", table)]
    assert ks == sorted({2, 4, 8, 16, 32, 64, 128, 256, facts["suggested_k"]})
    assert "<h2>k = 2, 4, 8, 16, 32, 64, 128, 256</h2>" in page
    for header in ("colours", "bytes", "ratio", "bits/pixel", "MSE", "PSNR", "SSIM"):
        assert header in table
    assert f"Suggested: <b>k={facts['suggested_k']}</b>" in page
    from kpalette import load_image

    pixels = load_image(sample_image_path()).reshape(-1, 3)
    assert f"{len(np.unique(pixels, axis=0)):,} colours" in page
    for row in facts["rows"]:
        assert row["bytes"] > 0 and 0 < row["ssim"] <= 1 and row["psnr"] > 10
    # the table's SSIM is that of the whole image, as compress --json reports it
    from kpalette import quantize

    whole = quantize(load_image(sample_image_path()), facts["rows"][0]["k"])
    assert facts["rows"][0]["ssim"] == pytest.approx(whole.ssim, rel=1e-12)
    assert "SSIM and CIEDE2000 on every pixel" in page


def test_page_works_offline(report):
    _, page, _ = report
    assert not re.search(r"<script[^>]+src=", page)
    markup = re.sub(r"<script.*?</script>", "", page, flags=re.DOTALL)  # scripts are inline
    assert not re.search(r"(src|href)=['\"](https?:)?//", markup)
    assert page.count("plotly.js v") == 1  # the library once, inline, for both clouds
    assert markup.count("<img") == 4 and markup.count("src='data:image/") == 4


@pytest.mark.slow
def test_page_renders_in_chromium(report, tmp_path):
    require_browser()
    from PIL import Image
    from playwright.sync_api import sync_playwright

    path, _, _ = report
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
        page.goto(path.as_uri())
        canvas = "#cloud-pixel .gl-container canvas"
        page.wait_for_selector(canvas, timeout=60_000)
        page.locator("#cloud-pixel").scroll_into_view_if_needed()
        page.wait_for_timeout(1500)
        shot = tmp_path / "cloud.png"
        page.locator("#cloud-pixel").screenshot(path=str(shot))
        natural_widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        browser.close()
    assert problems == []
    assert len(natural_widths) == 4 and min(natural_widths) > 100  # every picture decoded
    # The 3-D plot is drawn: the screenshot holds many colours, coffee browns among them.
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 500
    browns = (pixels[:, 0] > pixels[:, 2] + 40) & (pixels[:, 0] > 60)
    assert browns.mean() > 0.002


def test_the_grid_can_be_the_walkthroughs_or_any_other(tmp_path, capsys):
    from kpalette.cli import main

    out = tmp_path / "page.html"
    assert main(["explore", str(sample_image_path()), "-o", str(out), "--grid", "2-4,10"]) == 0
    assert "<h2>k = 2, 3, 4, 10</h2>" in out.read_text(encoding="utf-8")
    for bad in ("0-3", "2-300", "a,b", "", "1-999999999999"):
        assert main(["explore", str(sample_image_path()), "--grid", bad]) == 2
        assert "--grid must be" in capsys.readouterr().err
