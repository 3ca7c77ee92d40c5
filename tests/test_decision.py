"""The joint decision of pixels and provenance, case by case against the documented table."""

from __future__ import annotations

from pathlib import Path

import pytest
from provenancefiles import camera_exif, jpeg_with_exif, png_with_text

from fakescope.config import ConfigError
from fakescope.inference.decision import CLAIMS, DECISIONS, PIXEL_VERDICTS, decide
from fakescope.inference.decision_policy import DEFAULT_POLICY, DecisionPolicy, parse_policy
from fakescope.provenance import read_provenance, read_provenance_bytes

# One (verdict, basis) pair per claim, the basis as `Provenance.basis` writes it.
PROVENANCE = {
    "generated-signed": ("declared-generated", "C2PA manifest, signer trusted"),
    "generated-unsigned": ("declared-generated", "unsigned metadata"),
    "edited": ("declared-edited", "unsigned metadata"),
    "capture-trusted": ("camera-metadata", "C2PA manifest, signer trusted"),
    "capture-signed": ("camera-metadata",
                       "C2PA manifest, signature valid, signer not on a trust list"),
    "capture-unsigned": ("camera-metadata", "unsigned metadata"),
    "none": ("no-provenance", ""),
}
COLUMNS = ("fake", "uncertain", "real", None)
# The default table, copied from the module docstring and docs/verdicts.md.
DEFAULT_TABLE = {
    "generated-signed": ("generated", "generated", "generated", "generated"),
    "generated-unsigned": ("generated", "generated", "generated", "generated"),
    "edited": ("likely-generated", "uncertain", "likely-real", "uncertain"),
    "capture-trusted": ("review", "captured", "captured", "captured"),
    "capture-signed": ("review", "uncertain", "likely-real", "uncertain"),
    "capture-unsigned": ("likely-generated", "uncertain", "likely-real", "uncertain"),
    "none": ("likely-generated", "uncertain", "likely-real", "uncertain"),
}
ACTIONS = {"generated": "treat as generated", "likely-generated": "likely generated",
           "review": "review", "uncertain": "uncertain", "likely-real": "likely real",
           "captured": "treat as a camera capture"}
CELLS = [(claim, pixels, row[i]) for claim, row in DEFAULT_TABLE.items()
         for i, pixels in enumerate(COLUMNS)]


def test_the_table_covers_every_claim_and_pixel_verdict() -> None:
    assert set(DEFAULT_TABLE) == set(CLAIMS) == set(PROVENANCE)
    assert COLUMNS == PIXEL_VERDICTS


@pytest.mark.parametrize(("claim", "pixels", "expected"), CELLS)
def test_default_policy_cell(claim: str, pixels: str | None, expected: str) -> None:
    decision = decide(pixels, PROVENANCE[claim])
    assert (decision.claim, decision.code) == (claim, expected)
    assert decision.code in DECISIONS
    assert decision.text.endswith(": " + ACTIONS[expected])
    assert decision.to_dict() == {"decision": expected, "decision_text": decision.text}


def test_provenance_not_read_reads_as_no_claim() -> None:
    assert decide("real", None).code == "likely-real"
    assert decide(None, None).text == (
        "provenance not read; the pixels could not be scored: uncertain")
    assert decide("fake", ("no-provenance", "")).text == (
        "no provenance; the detector says fake: likely generated")


UNTRUSTED_GENERATED = DecisionPolicy(trust_unsigned_generated=False)


@pytest.mark.parametrize(("pixels", "expected"), [
    ("fake", "likely-generated"), ("uncertain", "review"), ("real", "review"), (None, "review")])
def test_unsigned_generation_claims_can_be_kept_from_deciding(
    pixels: str | None, expected: str
) -> None:
    assert decide(pixels, PROVENANCE["generated-unsigned"], UNTRUSTED_GENERATED).code == expected
    # a signed declaration still decides
    assert decide(pixels, PROVENANCE["generated-signed"], UNTRUSTED_GENERATED).code == "generated"


CAPTURES = ("capture-unsigned", "capture-signed", "capture-trusted")


@pytest.mark.parametrize(("setting", "value", "expected"), [
    # which capture claims send a fake verdict to review
    ("capture_review_from", "unsigned", ("review", "review", "review")),
    ("capture_review_from", "signed", ("likely-generated", "review", "review")),
    ("capture_review_from", "trusted", ("likely-generated", "likely-generated", "review")),
    ("capture_review_from", "never", ("likely-generated", "likely-generated",
                                      "likely-generated")),
    # which capture claims override a fake verdict
    ("capture_override_from", "unsigned", ("likely-real", "likely-real", "captured")),
    ("capture_override_from", "signed", ("likely-generated", "likely-real", "captured")),
    ("capture_override_from", "trusted", ("likely-generated", "review", "captured")),
    ("capture_override_from", "never", ("likely-generated", "review", "review")),
])
def test_capture_claims_against_a_fake_verdict(
    setting: str, value: str, expected: tuple[str, str, str]
) -> None:
    policy = DecisionPolicy(**{setting: value})
    assert tuple(decide("fake", PROVENANCE[c], policy).code for c in CAPTURES) == expected
    assert decide("fake", PROVENANCE["none"], policy).code == "likely-generated"


def test_texts_name_the_claim_basis_and_detector() -> None:
    assert decide("real", PROVENANCE["generated-unsigned"]).text == (
        "declared generated (unsigned metadata); the pixel detector does not see it: "
        "treat as generated")
    assert decide("fake", PROVENANCE["capture-signed"]).text == (
        "camera capture claim (valid C2PA, signer not on a trust list); the detector says fake: "
        "review")
    assert decide("fake", PROVENANCE["generated-signed"]).text == (
        "declared generated (C2PA, signer trusted); the pixel detector agrees: treat as generated")
    assert decide("real", PROVENANCE["capture-trusted"]).text.endswith(
        "treat as a camera capture")


def test_basis_keys_work_like_basis_texts() -> None:
    assert decide("fake", ("camera-metadata", "valid-untrusted")).code == "review"
    assert decide("fake", ("camera-metadata", "invalid")).code == "likely-generated"
    assert decide("real", ("declared-generated", "invalid")).code == "generated"


def test_reasons_appear_in_the_text() -> None:
    text = decide("uncertain", PROVENANCE["none"],
                  reasons=("inside the uncertain band", "unlike the training data")).text
    assert text == ("no provenance; the detector is unsure (inside the uncertain band; "
                    "unlike the training data): uncertain")


def test_read_provenance_names_the_sources(tmp_path: Path) -> None:
    png = read_provenance_bytes(png_with_text({"parameters": "a cat, Steps: 20, Sampler: Euler"}))
    decision = decide("real", png)
    assert (decision.code, decision.text) == ("generated", (
        "declared generated (unsigned PNG text); the pixel detector does not see it: "
        "treat as generated"))
    jpeg = read_provenance_bytes(jpeg_with_exif(camera_exif()))
    decision = decide("fake", jpeg)
    assert decision.code == "likely-generated"
    assert decision.text.startswith("camera capture claim (unsigned EXIF); the detector says fake")
    unreadable = read_provenance(tmp_path / "missing.png")
    assert decide("real", unreadable).text == (
        "provenance could not be read; the detector says real: likely real")


def test_a_bad_pixel_verdict_is_refused() -> None:
    with pytest.raises(ValueError, match="pixel verdict"):
        decide("maybe", None)


def test_parse_policy() -> None:
    assert parse_policy("") is DEFAULT_POLICY
    assert parse_policy("default") is DEFAULT_POLICY
    policy = parse_policy("trust_unsigned_generated=no, capture_review_from=unsigned")
    assert policy == DecisionPolicy(False, "unsigned", "never")
    assert policy.to_dict() == {"trust_unsigned_generated": False,
                                "capture_review_from": "unsigned",
                                "capture_override_from": "never"}
    for bad, message in (("speed=fast", "key=value"), ("capture_review_from", "key=value"),
                         ("trust_unsigned_generated=maybe", "yes or no"),
                         ("capture_override_from=always", "one of")):
        with pytest.raises(ConfigError, match=message):
            parse_policy(bad)


def test_a_prediction_gives_its_reasons_and_an_unscored_one_says_so() -> None:
    from fakescope.inference.joint import decide_prediction
    from fakescope.inference.predict import Prediction

    banded = Prediction(0.5, "fake", 0.5, verdict="uncertain", band=(0.4, 0.6),
                        reasons=("P(fake) inside the uncertain band [40.0%, 60.0%)",))
    assert decide_prediction(banded, None).text == (
        "provenance not read; the detector is unsure (P(fake) inside the uncertain band "
        "[40.0%, 60.0%)): uncertain")
    labelled = Prediction(0.9, "fake", 0.5)  # an old checkpoint: no band, the label decides
    assert decide_prediction(labelled, ("no-provenance", "")).code == "likely-generated"
    assert decide_prediction(None, ("declared-generated", "unsigned metadata")).text == (
        "declared generated (unsigned metadata); the pixels could not be scored: "
        "treat as generated")
