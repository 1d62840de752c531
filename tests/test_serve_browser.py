"""`mnistmlp serve` in a real browser: headless Chromium (Debian's ``chromium``, or the one
MNISTMLP_CHROMIUM names) driven by Playwright, against the server started as a user starts it.

It trains the notebook's four networks and waits for each curve to reach its end, checks the
lesson on the page (2×100 SGD flat near 11%, Adam rescuing it), draws a "1" with the mouse and
reads the top class, and saves screenshots: in pytest's temporary folder, or in the folder
MNISTMLP_SCREENSHOTS names (the README's pictures, docs/images/serve-*.png, are made this way).
Skipped, saying why, where Playwright or Chromium cannot be found.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from _serve import start_server

pytest.importorskip("starlette", reason="the serve extra is not installed: pip install 'mnistmlp[serve]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (the test extra has it)")

CHROMIUM = os.environ.get("MNISTMLP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no Chromium found (apt-get install chromium, or set MNISTMLP_CHROMIUM to a Chromium binary)",
                allow_module_level=True)

#: Seconds to wait for the page to do something: a run, its curve, a prediction.
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def page(mnist_dir):
    process, url = start_server(mnist_dir, "--port", "0")
    try:
        with sync_api.sync_playwright() as playwright:
            # CI runs as root, where Chromium's sandbox refuses to start, and in containers,
            # whose /dev/shm may be too small for it.
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            errors: list = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
            yield page
            browser.close()
            assert not errors, f"the page's script failed: {errors}"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = os.environ.get("MNISTMLP_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_the_notebook_s_four_networks_train_live_and_show_the_lesson(page, screenshots):
    page.get_by_role("button", name="Run all four").click()
    for run in ("1", "2", "3", "4"):
        # The curve reaches the end of its one epoch and the test accuracy arrives.
        page.wait_for_selector(f'#runs tr[data-run-id="{run}"][data-state="done"][data-curve-end="1.0000"]',
                               timeout=WAIT_MS)
    accuracies = {row.get_attribute("data-run-id"): float(row.query_selector(".test-accuracy").inner_text().strip("%"))
                  for row in page.query_selector_all("#runs tbody tr")}
    assert accuracies["1"] > 60 and accuracies["2"] < accuracies["1"]  # 1×100 beats 1×10
    assert accuracies["3"] < 20 and accuracies["4"] > 93  # 2×100: SGD stays flat, Adam rescues it
    assert page.locator("#confusion table").count() == 1
    page.screenshot(path=screenshots / "serve-train.png")


def test_a_drawn_one_is_read_as_a_one(page, screenshots):
    page.select_option("#model", "4")  # the 2×100 Adam network
    page.wait_for_selector("#weights .tile", timeout=WAIT_MS)
    page.locator("#pad").scroll_into_view_if_needed()  # the mouse moves in the window's coordinates
    box = page.locator("#pad").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 0.52 * box["width"], box["y"] + 0.15 * box["height"])
    page.mouse.down()
    for step in range(1, 21):  # a slightly slanted vertical stroke
        x, y = 0.52 - 0.04 * step / 20, 0.15 + 0.7 * step / 20
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.mouse.up()
    page.wait_for_function("document.getElementById('bars').dataset.top === '1'", timeout=WAIT_MS)
    assert page.locator("#top-class").inner_text() == "1"
    assert page.locator("#mistakes .tile").count() == 12
    assert page.locator("#weights .tile").count() == 100
    page.locator("#draw").screenshot(path=screenshots / "serve-draw.png")
