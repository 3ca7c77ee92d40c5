"""The demo's report in headless Debian Chromium (Playwright): at a laptop's 1280x800 the first
screen holds the answer: the best detector with its ROC-AUC and both face grids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from report.demo_folder import demo_folder

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
