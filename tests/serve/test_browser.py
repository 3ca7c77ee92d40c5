"""End to end in headless Debian Chromium driven by Playwright, against `fakescope serve`:
upload a face and see the verdict, upload a text file and see the error, use the keyboard."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from fakescope.data.synth import draw_face

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt: chromium)"
)
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-default-apps", "--disable-extensions", "--disable-sync",
                 "--no-first-run"]
SHOWN_TO_REVIEWERS = Path("/tmp/serve_screenshot.png")


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: sync_api.Browser, live_server: str) -> Iterator[sync_api.Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    opened = context.new_page()
    script_errors: list[str] = []
    opened.on("pageerror", lambda error: script_errors.append(str(error)))
    opened.set_default_timeout(20_000)
    opened.goto(live_server)
    expect(opened.locator("#model-chip")).to_contain_text("dcgan_disc64")
    yield opened
    context.close()
    assert not script_errors, f"the page's script failed: {script_errors}"


@pytest.fixture
def face_file(tmp_path: Path) -> Path:
    path = tmp_path / "portrait.jpg"
    draw_face(np.random.default_rng(0), 256).save(path, quality=92)
    return path


def test_upload_a_face_and_see_the_verdict(
    page: sync_api.Page, face_file: Path, live_server: str, tmp_path: Path
) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.set_input_files("#file-input", face_file)
    expect(page.locator("#verdict")).to_be_visible()
    expect(page.locator("#verdict-label")).to_contain_text("Likely")
    expect(page.locator("#fact-threshold")).to_have_text("50.0 %")
    expect(page.locator("#fact-model")).to_have_text("dcgan_disc64")
    expect(page.locator("#preview-image")).to_be_visible()
    assert page.locator("#error").is_hidden()
    probability = float(page.locator("#probability-bar").get_attribute("aria-valuenow") or "nan")
    assert 0.0 <= probability <= 100.0

    toggle = page.get_by_label("Show Grad-CAM heat map")
    toggle.focus()
    page.keyboard.press("Space")  # the toggle works from the keyboard
    expect(page.locator("#gradcam-image")).to_be_visible()
    assert (page.locator("#gradcam-image").get_attribute("src") or "").startswith(
        "data:image/png;base64,")
    expect(page.locator("#preview-image")).to_be_hidden()

    shot = tmp_path / "verdict.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    shutil.copy(shot, SHOWN_TO_REVIEWERS)
    origin = urlsplit(live_server).netloc
    offsite = [u for u in requested if urlsplit(u).scheme in ("http", "https")
               and urlsplit(u).netloc != origin]
    assert not offsite, f"the page fetched from elsewhere: {offsite}"


def test_upload_a_text_file_and_see_the_error(page: sync_api.Page, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture at all\n")
    page.set_input_files("#file-input", notes)
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("notes.txt: not a supported image type")
    expect(page.locator("#verdict")).to_be_hidden()
    expect(page.locator("#preview-image")).to_be_hidden()  # no broken-image icon
    expect(page.locator("#status")).to_have_text("The picture could not be analysed.")
    page.screenshot(path=str(tmp_path / "error.png"), full_page=True)


def test_dropping_a_file_on_the_page_analyses_it(page: sync_api.Page, face_file: Path) -> None:
    page.evaluate(
        """async (bytes) => {
            const file = new File([new Uint8Array(bytes)], "dropped.jpg", {type: "image/jpeg"});
            const transfer = new DataTransfer();
            transfer.items.add(file);
            const zone = document.getElementById("drop-zone");
            zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
        }""",
        list(face_file.read_bytes()),
    )
    expect(page.locator("#verdict")).to_be_visible()
    expect(page.locator("#preview-caption")).to_contain_text("dropped.jpg")


def test_controls_are_labelled_and_reachable_by_keyboard(page: sync_api.Page) -> None:
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "file-input"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "gradcam-toggle"
    expect(page.get_by_label("Drop an image here or choose a file")).to_have_count(1)
    meter = page.get_by_role("meter", name="Probability that the picture is fake",
                             include_hidden=True)  # shown with the verdict
    expect(meter).to_have_count(1)
    expect(page.get_by_role("alert", include_hidden=True)).to_have_count(1)


def test_the_page_fits_a_phone(browser: sync_api.Browser, live_server: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    phone.goto(live_server)
    expect(phone.locator("#model-chip")).to_contain_text("dcgan_disc64")
    width = phone.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert width <= 390


def test_screenshot_bytes_are_a_png() -> None:
    if not SHOWN_TO_REVIEWERS.exists():
        pytest.skip("the verdict test did not run first")
    assert SHOWN_TO_REVIEWERS.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert io.BytesIO(SHOWN_TO_REVIEWERS.read_bytes()).getbuffer().nbytes > 10_000


def test_provenance_panel_shows_what_the_file_declares(page: sync_api.Page,
                                                       tmp_path: Path) -> None:
    from provenancefiles import png_with_text

    hostile = '<img src=x onerror="window.__pwned = 1">Steps: 20, Sampler: Euler a'
    generated = tmp_path / "generated.png"
    generated.write_bytes(png_with_text({"parameters": hostile}))
    page.set_input_files("#file-input", generated)
    panel = page.locator("#provenance-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#verdict")).to_be_visible()  # the detector's verdict, separately
    expect(page.locator("#provenance-verdict")).to_have_text("Declared generated")
    expect(page.locator("#provenance-summary")).to_contain_text("claim, not proof")
    expect(page.locator("#provenance-count")).to_have_text("1")
    page.locator("#provenance-details summary").click()
    evidence = page.locator("#provenance-evidence li")
    expect(evidence).to_contain_text("png-text · parameters")
    expect(evidence).to_contain_text('<img src=x onerror="window.__pwned = 1">')  # as text
    assert page.evaluate("window.__pwned") is None
    page.screenshot(path=str(tmp_path / "provenance.png"), full_page=True)
    shutil.copy(tmp_path / "provenance.png", "/tmp/serve_provenance_screenshot.png")

    page.locator("#clear-button").click()
    expect(panel).to_be_hidden()


def test_the_joint_decision_comes_first(page: sync_api.Page, tmp_path: Path) -> None:
    from provenancefiles import camera_exif, jpeg_with_exif, png_with_text

    generated = tmp_path / "sd.png"
    generated.write_bytes(png_with_text(
        {"parameters": "a face\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, Seed: 1"}))
    page.set_input_files("#file-input", generated)
    decision = page.locator("#decision")
    expect(decision).to_be_visible()
    expect(decision).to_have_class("decision is-generated")
    expect(page.locator("#decision-label")).to_have_text("Treat as generated")
    expect(page.locator("#decision-text")).to_contain_text(
        "declared generated (unsigned PNG text); the pixel detector ")
    expect(page.locator("#decision-text")).to_contain_text(": treat as generated")
    # the two raw readings are kept, below the decision
    expect(page.locator("#verdict-label")).to_contain_text(re.compile("Likely|Uncertain"))
    expect(page.locator("#provenance-verdict")).to_have_text("Declared generated")
    tops = [page.locator(where).bounding_box()["y"]  # type: ignore[index]
            for where in ("#decision-label", "#verdict-label", "#provenance-verdict")]
    assert tops == sorted(tops), tops
    expect(page.locator("#status")).to_contain_text("sd.png: treat as generated; pixel detector: ")
    page.screenshot(path=str(tmp_path / "decision.png"), full_page=True)
    shutil.copy(tmp_path / "decision.png", "/tmp/serve_decision_screenshot.png")

    camera = tmp_path / "camera.jpg"
    camera.write_bytes(jpeg_with_exif(camera_exif()))
    page.set_input_files("#file-input", camera)
    expect(page.locator("#decision-text")).to_contain_text("camera capture claim (unsigned EXIF)")
    expect(decision).not_to_have_class("decision is-generated")
    page.locator("#clear-button").click()
    expect(decision).to_be_hidden()


def test_the_uncertain_band_is_its_own_verdict(
    browser: sync_api.Browser, uncertain_server: str, face_file: Path, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    page = context.new_page()
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.set_default_timeout(20_000)
    page.goto(uncertain_server)
    expect(page.locator("#model-chip")).to_contain_text("threshold 50.0 %")
    page.set_input_files("#file-input", face_file)
    verdict = page.locator("#verdict")
    expect(verdict).to_be_visible()
    expect(verdict).to_have_class("verdict is-uncertain")
    expect(page.locator("#verdict-label")).to_have_text("Uncertain")
    expect(page.locator("#verdict-sub")).to_contain_text("uncertain band from 30.0 % to 70.0 %")
    expect(page.locator("#fact-band")).to_have_text("30.0 % – 70.0 %")
    expect(page.locator("#bar-band")).to_be_visible()
    expect(page.locator("#status")).to_contain_text(": uncertain.")
    expect(page.locator("#model-facts")).to_contain_text("Uncertain band")
    page.screenshot(path=str(tmp_path / "uncertain.png"), full_page=True)
    shutil.copy(tmp_path / "uncertain.png", "/tmp/serve_uncertain_screenshot.png")
    context.close()
    assert not script_errors, f"the page's script failed: {script_errors}"


def test_the_page_never_rounds_to_certainty(page: sync_api.Page) -> None:
    shown = page.evaluate("[0, 1, 0.5, 0.9997, 0.99996, 0.00004].map(percent)")
    assert shown == ["0 %", "100 %", "50.0 %", "99.97 %", ">99.99 %", "<0.01 %"]


def test_an_uncertain_verdict_says_why_and_the_model_says_how_its_band_was_fitted(
    page: sync_api.Page, face_file: Path
) -> None:
    """A picture unlike the training data answers uncertain with its P(fake) outside the band;
    the page gives the server's reason instead of pointing at the band."""
    reason = ("unlike the training data: feature distance 3.2x the limit that held-out "
              "validation pictures stay within")
    answer = {
        "filename": face_file.name, "label": "real", "verdict": "uncertain",
        "probability_fake": 0.02, "threshold": 0.5, "band_low": 0.27, "band_high": 0.73,
        "reasons": [reason], "distance": 320.0, "distance_limit": 100.0, "face_box": None,
        "gradcam_png": None, "model": "dcgan_disc64", "latency_ms": 12.0, "provenance": None,
        "decision": "uncertain", "decision_text": "no provenance; the detector is uncertain",
    }  # fmt: skip
    page.route("**/api/predict*", lambda route: route.fulfill(json=answer))
    page.set_input_files("#file-input", face_file)
    expect(page.locator("#verdict-label")).to_have_text("Uncertain")
    sub = page.locator("#verdict-sub")
    expect(sub).to_contain_text("cannot tell for this picture: unlike the training data")
    expect(sub).not_to_contain_text("lies in the uncertain band")
    expect(page.locator("#model-facts")).to_contain_text("Band fitted")
    expect(page.locator("#model-facts")).to_contain_text("Training-data check")
