"""The demo's report in headless Debian Chromium (Playwright): at a laptop's 1280x800 the first
screen holds the answer: the best detector with its ROC-AUC and both face grids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from report.demo_folder import demo_folder, single_run

from fakescope.evaluate.evaluate import Evaluation
from fakescope.report.html import write_report

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt: chromium)"
)
sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-default-apps", "--disable-extensions", "--disable-sync",
                 "--no-first-run"]
SCREEN = {"width": 1280, "height": 800}
SHOWN_TO_REVIEWERS = Path("/tmp/report_first_screen.png")


def test_the_first_screen_holds_the_summary(
    tmp_path: Path, make_evaluation: Callable[..., Evaluation]
) -> None:
    report = write_report(demo_folder(tmp_path / "demo", make_evaluation))
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=SCREEN)
            page.goto(report.as_uri())
            page.screenshot(path=str(SHOWN_TO_REVIEWERS))
            for selector in ("#best-model", "#best-roc-auc", "#face-grids img"):
                elements = page.locator(selector)
                assert elements.count() > 0, selector
                for i in range(elements.count()):
                    box = elements.nth(i).bounding_box()
                    assert box is not None and box["width"] > 0, selector
                    # entirely on the first screen, without scrolling
                    assert box["y"] >= 0 and box["y"] + box["height"] <= SCREEN["height"], selector
                    assert box["x"] + box["width"] <= SCREEN["width"], selector
            assert page.locator("#face-grids img").count() == 2
            assert page.locator("#best-model").inner_text() in ("a", "b")
            # the configs are folded away at the end
            assert not page.locator("#configs pre").first.is_visible()
        finally:
            browser.close()


LAPTOP = {"width": 1366, "height": 800}


@pytest.mark.parametrize("kind", ["single run", "demo"])
def test_a_report_fits_a_laptop_screen_with_the_summary_first(
    tmp_path: Path, make_evaluation: Callable[..., Evaluation], kind: str
) -> None:
    if kind == "demo":
        folder = demo_folder(tmp_path / "demo", make_evaluation)
    else:
        folder = single_run(tmp_path / "run", make_evaluation("det/best"))
    report = write_report(folder)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=LAPTOP)
            page.goto(report.as_uri())
            # the summary is the first section, and starts on the first screen
            assert page.evaluate("document.querySelector('section').id") == "summary"
            box = page.locator("#summary").bounding_box()
            assert box is not None and box["y"] < LAPTOP["height"] / 2
            # nothing makes the page scroll sideways (wide tables scroll in their own box)
            assert page.evaluate(
                "document.documentElement.scrollWidth <= window.innerWidth"
            ), page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            # speed probes are folded into the internals, never listed under Results
            probes = page.locator("h4", has_text="speed.json")
            assert probes.count() >= 1
            for i in range(probes.count()):
                assert probes.nth(i).evaluate("e => e.closest('section').id") == "internals"
                assert not probes.nth(i).is_visible()
            synthetic = page.locator("#synthetic-data")
            if kind == "demo":
                box = synthetic.bounding_box()
                assert box is not None and box["y"] + box["height"] <= LAPTOP["height"]
            else:
                assert synthetic.count() == 0
        finally:
            browser.close()
