"""One decision a reviewer can act on, from the pixel detector's verdict and the file's provenance.

The detector judges the pixels (real | uncertain | fake, or None when they could not be scored);
provenance reads what the file says about itself (`fakescope.provenance.verdict`). Shown apart,
they can contradict each other with nothing to say which to believe: a PNG whose text chunk
says it was generated can score "real". `decide` joins them by a fixed, configurable table:

    decision          what a reviewer should do
    generated         treat as generated: the file declares it (a declaration decides)
    likely-generated  the detector says fake and nothing strong enough contests it
    review            strong evidence disagrees: a person should look
    uncertain         neither the detector nor the metadata decides
    likely-real       the detector says real and nothing contests it
    captured          a trusted C2PA manifest declares a camera capture and the detector does
                      not say fake: treat as a camera photo

Provenance is first sorted into a claim by its verdict and basis. Metadata is a claim, not
proof: a declaration of generation is strong evidence even unsigned (people rarely forge one
against themselves), camera EXIF is weak (any tool copies it), and a C2PA signature binds a
claim to the file's bytes, strongest when its signer is trusted. A manifest that failed
validation binds nothing, so its claims count as unsigned.

    claim               provenance verdict     basis
    generated-signed    declared-generated     C2PA, trusted or valid-untrusted
    generated-unsigned  declared-generated     unsigned metadata, or invalid C2PA
    edited              declared-edited        any
    capture-trusted     camera-metadata        C2PA, trusted
    capture-signed      camera-metadata        C2PA, valid-untrusted
    capture-unsigned    camera-metadata        unsigned metadata (EXIF, XMP), or invalid C2PA
    none                no-provenance, provenance unreadable or not read

The table under `DEFAULT_POLICY` (pixel verdict across, claim down):

    claim               fake              uncertain    real         not scored
    generated-signed    generated         generated    generated    generated
    generated-unsigned  generated         generated    generated    generated
    edited              likely-generated  uncertain    likely-real  uncertain
    capture-trusted     review            captured     captured     captured
    capture-signed      review            uncertain    likely-real  uncertain
    capture-unsigned    likely-generated  uncertain    likely-real  uncertain
    none                likely-generated  uncertain    likely-real  uncertain

`DecisionPolicy` (`fakescope.inference.decision_policy`) changes three things: whether an
unsigned declaration of generation decides alone, which capture claims send a fake verdict to
review, and which override it.

The decision's text names the claim, its basis and the detector's verdict with its reasons, e.g.
"declared generated (unsigned PNG text); the pixel detector does not see it: treat as
generated" or "camera capture claim (valid C2PA, signer not on a trust list); the detector says
fake: review".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fakescope.inference.decision_policy import DEFAULT_POLICY, STRENGTHS, DecisionPolicy
from fakescope.provenance.c2pa_reader import INVALID, TRUSTED, VALID_UNTRUSTED
from fakescope.provenance.evidence import UNSIGNED
from fakescope.provenance.reader import Provenance
from fakescope.provenance.verdict import (
    BASES,
    CAMERA_METADATA,
    DECLARED_EDITED,
    DECLARED_GENERATED,
)
from fakescope.provenance.verdict import decide as provenance_decide

GENERATED = "generated"
LIKELY_GENERATED = "likely-generated"
REVIEW = "review"
UNCERTAIN = "uncertain"
LIKELY_REAL = "likely-real"
CAPTURED = "captured"
DECISIONS = (GENERATED, LIKELY_GENERATED, REVIEW, UNCERTAIN, LIKELY_REAL, CAPTURED)
MEANINGS = {
    GENERATED: "treat as generated: the file declares it",
    LIKELY_GENERATED: "the detector says fake and nothing strong enough contests it",
    REVIEW: "strong evidence disagrees: a person should look",
    UNCERTAIN: "neither the detector nor the metadata decides",
    LIKELY_REAL: "the detector says real and nothing contests it",
    CAPTURED: "a trusted C2PA manifest declares a camera capture and the detector does not "
    "say fake",
}
_ACTIONS = {
    GENERATED: "treat as generated",
    LIKELY_GENERATED: "likely generated",
    REVIEW: "review",
    UNCERTAIN: "uncertain",
    LIKELY_REAL: "likely real",
    CAPTURED: "treat as a camera capture",
}

PIXEL_VERDICTS = ("fake", "uncertain", "real", None)

GENERATED_SIGNED = "generated-signed"
GENERATED_UNSIGNED = "generated-unsigned"
EDITED = "edited"
CAPTURE_TRUSTED = "capture-trusted"
CAPTURE_SIGNED = "capture-signed"
CAPTURE_UNSIGNED = "capture-unsigned"
NO_CLAIM = "none"
CLAIMS = (GENERATED_SIGNED, GENERATED_UNSIGNED, EDITED, CAPTURE_TRUSTED, CAPTURE_SIGNED,
          CAPTURE_UNSIGNED, NO_CLAIM)

# How strong a capture claim is, as ranked by the policy's `STRENGTHS`.
_CAPTURE_STRENGTH = {CAPTURE_UNSIGNED: 0, CAPTURE_SIGNED: 1, CAPTURE_TRUSTED: 2}

# Basis keys by the text `Provenance.basis` holds, so either form may be passed.
_BASIS_KEYS = {**{text: key for key, text in BASES.items()}, **{key: key for key in BASES}}
_BASIS_WORDS = {
    TRUSTED: "C2PA, signer trusted",
    VALID_UNTRUSTED: "valid C2PA, signer not on a trust list",
    INVALID: "C2PA that failed validation",
}
_SOURCE_WORDS = {"c2pa": "C2PA", "xmp": "XMP", "png-text": "PNG text",
                 "jpeg-comment": "JPEG comment", "exif": "EXIF", "webp": "WebP metadata"}
_UNREADABLE = "unreadable"  # a Provenance whose file could not be read at all
_CLAIM_WORDS = {DECLARED_GENERATED: "declared generated", DECLARED_EDITED: "declared edited",
                CAMERA_METADATA: "camera capture claim"}


@dataclass(frozen=True)
class Decision:
    code: str  # one of DECISIONS
    text: str  # one line for a reviewer
    claim: str  # one of CLAIMS: how the provenance was read
    pixels: str | None  # the pixel verdict it was given

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.code, "decision_text": self.text}


ProvenanceInput = Provenance | tuple[str | None, str] | None


def decide(
    pixel_verdict: str | None,
    provenance: ProvenanceInput,
    policy: DecisionPolicy = DEFAULT_POLICY,
    reasons: Sequence[str] = (),
) -> Decision:
    """The joint decision for one image. `pixel_verdict`: real | uncertain | fake, or None when
    the pixels could not be scored. `provenance`: a `Provenance`, a (verdict, basis) pair (the
    basis as a key such as "trusted" or as `Provenance.basis` writes it), or None when it was
    not read. `reasons`: why the detector said what it said (e.g. "inside the uncertain band")."""
    if pixel_verdict not in PIXEL_VERDICTS:
        raise ValueError(f"pixel verdict must be real, uncertain, fake or None, "
                         f"got {pixel_verdict!r}")
    verdict, basis, sources = _read(provenance)
    claim = _claim(verdict, basis)
    code = _code(claim, pixel_verdict, policy)
    text = (f"{_claim_phrase(verdict, basis, sources)}; "
            f"{_pixel_phrase(pixel_verdict, claim, reasons)}: {_ACTIONS[code]}")
    return Decision(code, text, claim, pixel_verdict)


def _read(provenance: ProvenanceInput) -> tuple[str | None, str, list[str]]:
    """(verdict, basis key, sources of the evidence the verdict rests on)."""
    if provenance is None:
        return None, UNSIGNED, []
    if isinstance(provenance, Provenance):
        if provenance.verdict is None:
            return _UNREADABLE, UNSIGNED, []
        supporting = provenance_decide(provenance.evidence)[2]
        sources = list(dict.fromkeys(e.source for e in supporting))
        return provenance.verdict, _BASIS_KEYS.get(provenance.basis, UNSIGNED), sources
    verdict, basis = provenance
    return verdict, _BASIS_KEYS.get(basis, UNSIGNED), []


def _claim(verdict: str | None, basis: str) -> str:
    signed = basis in (TRUSTED, VALID_UNTRUSTED)
    if verdict == DECLARED_GENERATED:
        return GENERATED_SIGNED if signed else GENERATED_UNSIGNED
    if verdict == DECLARED_EDITED:
        return EDITED
    if verdict == CAMERA_METADATA:
        return {TRUSTED: CAPTURE_TRUSTED, VALID_UNTRUSTED: CAPTURE_SIGNED}.get(
            basis, CAPTURE_UNSIGNED)
    return NO_CLAIM


def _at_least(claim: str, strength: str) -> bool:
    """Whether a capture claim is at least `strength` strong ("never": no claim is)."""
    rank = _CAPTURE_STRENGTH.get(claim)
    return rank is not None and strength != "never" and rank >= STRENGTHS.index(strength)


def _code(claim: str, pixels: str | None, policy: DecisionPolicy) -> str:
    if claim == GENERATED_SIGNED or (claim == GENERATED_UNSIGNED
                                     and policy.trust_unsigned_generated):
        return GENERATED
    if claim == GENERATED_UNSIGNED:
        return LIKELY_GENERATED if pixels == "fake" else REVIEW
    if pixels == "fake":
        if _at_least(claim, policy.capture_override_from):
            return CAPTURED if claim == CAPTURE_TRUSTED else LIKELY_REAL
        return REVIEW if _at_least(claim, policy.capture_review_from) else LIKELY_GENERATED
    if claim == CAPTURE_TRUSTED:
        return CAPTURED
    return LIKELY_REAL if pixels == "real" else UNCERTAIN


def _claim_phrase(verdict: str | None, basis: str, sources: Sequence[str]) -> str:
    if verdict not in _CLAIM_WORDS:
        return {None: "provenance not read", _UNREADABLE: "provenance could not be read"}.get(
            verdict, "no provenance")
    if basis in _BASIS_WORDS:
        where = _BASIS_WORDS[basis]
    else:
        named = ", ".join(_SOURCE_WORDS.get(s, s) for s in sources)
        where = f"unsigned {named}" if named else "unsigned metadata"
    return f"{_CLAIM_WORDS[verdict]} ({where})"


def _pixel_phrase(pixels: str | None, claim: str, reasons: Sequence[str]) -> str:
    why = f" ({'; '.join(reasons)})" if reasons else ""
    if pixels is None:
        return "the pixels could not be scored"
    if pixels == "uncertain":
        return f"the detector is unsure{why}"
    if claim in (GENERATED_SIGNED, GENERATED_UNSIGNED):
        seen = "agrees" if pixels == "fake" else "does not see it"
        return f"the pixel detector {seen}{why}"
    return f"the detector says {pixels}{why}"
