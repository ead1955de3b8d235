"""kpalette serve's page end to end: Playwright driving Debian's Chromium against a real
server on loopback (the one .ci/run starts, named by KPALETTE_SERVE_URL, or one started
here). A screenshot is kept in KPALETTE_ARTIFACTS (default build/artifacts)."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import numpy as np
import pytest

from browser import CHROMIUM, CHROMIUM_ARGS, require_browser
from kpalette import load_image
from kpalette.data import sample_image_path
from serving import answers, running_server

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def server():
    """The URL of a kpalette server on loopback."""
    require_browser("starlette", "uvicorn")
    given = os.environ.get("KPALETTE_SERVE_URL")
    if given:
        url = given.rstrip("/") + "/"
        assert answers(url), f"KPALETTE_SERVE_URL={given} does not answer /healthz"
        yield url
        return
    with running_server() as (_, url):
        yield url


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server[:-1])
        page = context.new_page()
        page.problems = []
        page.requests = []
        page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: page.problems.append(str(error)))
        page.on("request", lambda request: page.requests.append(request.url))
        page.goto(server)
        yield page
        browser.close()


def _wait(page, predicate: str, *, timeout: float = 30_000) -> None:
    """Poll ``predicate`` (a JavaScript expression or function) until it is true.

    Playwright's own ``wait_for_function`` evaluates its predicate with ``eval`` inside
    the page, which the page's policy (no 'unsafe-eval') forbids; ``page.evaluate``
    runs through the browser's debugging protocol and is not subject to it.
    """
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout / 1000:.0f} s: {predicate}")
        time.sleep(0.05)


def _shown(page, k: int, *, full: bool = True) -> None:
    """Wait until the preview and the numbers (the full-size ones if ``full``) are k's."""
    state = "full" if full else "preview"
    _wait(
        page,
        f"""() => document.querySelector('#preview').dataset.k === '{k}'
              && document.querySelector('#summary').dataset.k === '{k}'
              && document.querySelector('#summary').dataset.state === '{state}'""",
        timeout=60_000,
    )


def _artifacts() -> Path:
    folder = Path(
        os.environ.get("KPALETTE_ARTIFACTS", Path(__file__).parents[1] / "build/artifacts")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_upload_set_k_to_8_see_it_and_download_it(page, server, tmp_path):
    page.set_input_files("#file", str(sample_image_path()))
    page.wait_for_selector("#palette .swatch", timeout=60_000)
    page.fill("#k", "8")
    _shown(page, 8)
    assert page.locator("#palette > *").count() == 8
    summary = page.inner_text("#summary")
    for words in ("Before", "After", "Ratio", "PSNR", "CIEDE2000", "Colours used", "8 (k = 8)"):
        assert words in summary
    assert page.eval_on_selector("#preview", "img => img.naturalWidth") > 100
    shot = _artifacts() / "serve-page.png"
    page.screenshot(path=str(shot), full_page=True)
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == f"{sample_image_path().stem}-k8.png"
    path = tmp_path / "out.png"
    download.value.save_as(path)
    assert len(np.unique(load_image(path).reshape(-1, 3), axis=0)) <= 8
    with page.expect_download() as palette:
        page.click("#palette-gpl")
    palette_path = tmp_path / "p.gpl"
    palette.value.save_as(palette_path)
    assert palette_path.read_text().startswith("GIMP Palette")
    # Click to copy a swatch's hex.
    first = page.locator("#palette .swatch").first
    hex_code = first.get_attribute("data-hex")
    first.click()
    assert page.evaluate("navigator.clipboard.readText()") == hex_code
    assert page.problems == []
    assert [url for url in page.requests if not url.startswith((server, "blob:", "data:"))] == []


def test_a_fast_slider_never_shows_an_older_answer_over_a_newer_one(page):
    page.set_input_files("#file", str(sample_image_path()))
    page.wait_for_selector("#palette .swatch", timeout=60_000)
    # Record every k the preview shows, then move the slider through 40 values at once.
    page.evaluate(
        """() => {
        window.shownKs = [];
        new MutationObserver(() => window.shownKs.push(Number(
            document.querySelector('#preview').dataset.k))).observe(
            document.querySelector('#preview'), {attributes: true, attributeFilter: ['data-k']});
        const k = document.querySelector('#k');
        for (let v = 3; v <= 120; v += 3) { k.value = v; k.dispatchEvent(new Event('input')); }
    }"""
    )
    _shown(page, 120)
    shown = page.evaluate("window.shownKs")
    assert shown[-1] == 120 and shown == sorted(shown)  # never back to an older k
    assert len(shown) < 40  # the ones overtaken were never asked for or never shown
    # With the keyboard: the slider moves by one.
    page.focus("#k")
    page.keyboard.press("ArrowRight")
    _shown(page, 121)
    assert page.problems == []


def test_choosers_say_why(page):
    page.set_input_files("#file", str(sample_image_path()))
    page.wait_for_selector("#palette .swatch", timeout=60_000)
    page.click("#auto")
    _wait(page, "document.querySelector('#why').textContent.includes('k = ')")
    assert "-k auto's target" in page.inner_text("#why")
    page.fill("#psnr", "30")
    page.click("#psnr-go")
    _wait(page, "document.querySelector('#why').textContent.startsWith('PSNR')")
    _wait(page, "document.querySelector('#why').textContent.includes('k = ')")
    k = int(page.input_value("#k"))
    _shown(page, k)
    psnr = float(page.inner_text("#summary").split("PSNR")[1].split("dB")[0])
    assert psnr >= 30
    page.fill("#psnr", "150")
    page.click("#psnr-go")
    _wait(page, "document.querySelector('#why').textContent.includes('not reached')")
    # A note holds for the settings it was made with: a change clears it.
    page.select_option("#colorspace", "rgb")
    _wait(page, "document.querySelector('#why').textContent === ''")
    # A size two colours do not fit: said, and never k = 1 (the slider's least is 2).
    before = page.input_value("#k")
    page.fill("#size", "0.1")
    page.click("#size-go")
    _wait(page, "document.querySelector('#why').textContent.includes('even 2 colours')")
    assert page.input_value("#k") == before
    page.fill("#size", "20")
    page.click("#size-go")
    _wait(page, "/k = \\d+/.test(document.querySelector('#why').textContent)")
    assert int(page.input_value("#k")) >= 2
    assert [p for p in page.problems if "400 (Bad Request)" not in p] == []


def test_the_palette_box_shows_whole_rows(page):
    page.set_input_files("#file", str(sample_image_path()))
    _shown(page, 16)
    page.fill("#k", "256")
    _shown(page, 256)
    cut = page.evaluate(
        """() => {
        const box = document.querySelector('#palette').getBoundingClientRect();
        return [...document.querySelectorAll('#palette .swatch')]
            .map((s) => s.getBoundingClientRect())
            .filter((r) => r.top < box.bottom && r.bottom > box.bottom + 0.5).length;
    }"""
    )
    assert cut == 0  # no swatch shown in part
    rows = page.evaluate(
        "() => new Set([...document.querySelectorAll('#palette .swatch')]"
        ".map((s) => s.offsetTop)).size"
    )
    assert rows > 4  # it scrolls
    assert page.problems == []


def test_drop_paste_zoom_divider_and_errors(page):
    small = (DATA / "chelsea-crop.png").read_bytes()
    drop = """async ([b64, kind]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], 'dropped.png', {type: 'image/png'}));
        const event = kind === 'drop'
            ? new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true})
            : new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true});
        document.body.dispatchEvent(event);
    }"""
    encoded = base64.b64encode(small).decode()
    page.evaluate(drop, [encoded, "drop"])
    _wait(page, "document.querySelector('#status').textContent.includes('300×200')")
    _shown(page, 16)
    page.evaluate(
        drop, [base64.b64encode((DATA / "hubble-crop.png").read_bytes()).decode(), "paste"]
    )
    _wait(page, "!document.querySelector('#status').textContent.includes('300×200')")
    _shown(page, 16)
    # The divider, with the keyboard.
    page.focus("#divider")
    page.keyboard.press("ArrowLeft")
    assert page.get_attribute("#divider", "aria-valuenow") == "48"
    # 1:1: one pixel of the image per pixel of the page (fitted, the 320-pixel image
    # is drawn across the stage).
    drawn = "img => Math.round(img.getBoundingClientRect().width)"
    assert page.eval_on_selector("#preview", drawn) > 600
    page.click("#zoom")
    _wait(page, "(document.querySelector('#preview')).getBoundingClientRect().width === 320")
    assert page.eval_on_selector("#preview", "img => img.naturalWidth") == 320
    assert page.get_attribute("#zoom", "aria-pressed") == "true"
    # A file that is not an image: its message, and the page keeps working.
    page.evaluate(drop, [base64.b64encode(b"not an image").decode(), "drop"])
    _wait(page, "document.querySelector('#error').textContent.length > 0")
    assert "not an image" in page.inner_text("#error")
    assert "'dropped.png'" in page.inner_text("#error")  # the file's name, not "the upload"
    page.fill("#k", "5")
    _shown(page, 5)
    assert [p for p in page.problems if "422" not in p] == []


def test_phone_size_dark_mode_and_the_cloud(page):
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 390, "height": 800})
    page.set_input_files("#file", str(sample_image_path()))
    _shown(page, 16)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390  # no sideways scroll
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert sum(int(v) for v in background[4:-1].split(",")) < 100  # dark
    page.click("#cloud-details summary")
    page.wait_for_selector("#cloud .gl-container canvas", timeout=60_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(_artifacts() / "serve-page-phone-dark.png"), full_page=True)
    legend = page.inner_text("#cloud")
    assert "centroids (k = 16)" in legend and "colours (4,000 of" in legend
    assert page.problems == []


def test_an_animation_says_its_download_keeps_every_frame(page, tmp_path):
    """The page shows the first frame; its status line and the "After" size say the
    download is the whole animation over one palette."""
    from PIL import Image

    from kpalette import load_image

    still = load_image(sample_image_path())[:120, :160]
    frames = []
    for i in range(4):
        frame = still.copy()
        frame[10:30, 10 + 20 * i : 30 + 20 * i] = (255, 0, 0)
        frames.append(Image.fromarray(frame))
    path = tmp_path / "moving.png"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=80)
    page.set_input_files("#file", str(path))
    _shown(page, 16)
    status = page.inner_text("#status")
    assert "an animation of 4 frames" in status and "keeps all 4 over one palette" in status
    _wait(page, "document.querySelector('#summary').textContent.includes('all 4 frames')")
    assert page.problems == []
