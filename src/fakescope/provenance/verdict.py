"""One short provenance verdict from the evidence, with the basis it rests on.

The first rule that holds decides:

    declared-generated  some field declares generated or partly generated content: a C2PA or
                        XMP digital source type such as trainedAlgorithmicMedia, IPTC AI
                        fields, a generator's text chunk (parameters, prompt, workflow, ...),
                        generation parameters in a comment, or a generator named as software
    declared-edited     some field declares edits: an edit action or source type in a C2PA
                        manifest, a file changed after its manifest was signed, or editing
                        software (Photoshop, GIMP, ...) in EXIF Software or XMP CreatorTool
    camera-metadata     EXIF names a camera (Make or Model) and at least one capture setting
                        (exposure, aperture, ISO, focal length, lens, capture time), or a
                        valid C2PA manifest or XMP declares a capture (digitalCapture, ...)
    no-provenance       none of the above (what most pictures from the web look like)

Metadata is a claim, not proof: it can be stripped (so its absence says nothing), copied from
another file or written by anyone. Only a C2PA signature binds claims to the file's bytes, and
then only as far as the signer is trusted.
"""

from __future__ import annotations

from collections.abc import Sequence

from fakescope.provenance.c2pa_reader import INVALID, REMOTE, TRUSTED, VALID_UNTRUSTED
from fakescope.provenance.evidence import (
    CAMERA,
    EDITED,
    ERROR,
    GENERATED,
    LIMIT,
    UNSIGNED,
    Evidence,
)
from fakescope.provenance.metadata import CAMERA_IDENTITY

DECLARED_GENERATED = "declared-generated"
DECLARED_EDITED = "declared-edited"
CAMERA_METADATA = "camera-metadata"
NO_PROVENANCE = "no-provenance"
VERDICTS = (DECLARED_GENERATED, DECLARED_EDITED, CAMERA_METADATA, NO_PROVENANCE)

MEANINGS = {
    DECLARED_GENERATED: "the file's metadata declares it generated, wholly or in part",
    DECLARED_EDITED: "the file's metadata declares it edited",
    CAMERA_METADATA: "the file carries camera capture data and declares nothing generated",
    NO_PROVENANCE: "no declaration of generation, edits or camera capture found; sites often "
    "strip metadata, so this says nothing about the picture",
}
CAVEAT = (
    "Metadata is a claim, not proof: it can be stripped, copied or forged; a C2PA signature "
    "only shows who made the claim and that the file is unchanged since."
)
BASES = {
    TRUSTED: "C2PA manifest, signer trusted",
    VALID_UNTRUSTED: "C2PA manifest, signature valid, signer not on a trust list",
    INVALID: "C2PA manifest that failed validation",
    UNSIGNED: "unsigned metadata",
}
_BASIS_ORDER = (TRUSTED, VALID_UNTRUSTED, INVALID, UNSIGNED)


def _camera(evidence: Sequence[Evidence]) -> list[Evidence]:
    """Camera evidence that counts: a capture declared by a valid manifest or by XMP, or EXIF
    naming a camera together with a capture setting."""
    signed = [e for e in evidence if e.signal == CAMERA and e.source == "c2pa"
              and e.basis in (TRUSTED, VALID_UNTRUSTED)]
    declared = [e for e in evidence if e.signal == CAMERA and e.source == "xmp"]
    exif = [e for e in evidence if e.signal == CAMERA and e.source == "exif"]
    identity = [e for e in exif if e.field in CAMERA_IDENTITY]
    settings = [e for e in exif if e.field not in CAMERA_IDENTITY]
    return signed + declared + (exif if identity and settings else [])


def _basis(supporting: Sequence[Evidence]) -> str:
    bases = {e.basis for e in supporting}
    for basis in _BASIS_ORDER:
        if basis in bases:
            return BASES[basis]
    return BASES[UNSIGNED]


def decide(evidence: Sequence[Evidence]) -> tuple[str, str, list[Evidence]]:
    """(verdict, basis, the evidence it rests on)."""
    for verdict, supporting in (
        (DECLARED_GENERATED, [e for e in evidence if e.signal == GENERATED]),
        (DECLARED_EDITED, [e for e in evidence if e.signal == EDITED]),
        (CAMERA_METADATA, _camera(evidence)),
    ):
        if supporting:
            return verdict, _basis(supporting), supporting
    return NO_PROVENANCE, "", []


def summary(
    verdict: str, basis: str, supporting: Sequence[Evidence], evidence: Sequence[Evidence] = ()
) -> str:
    """A few sentences for people: the verdict, what it rests on, what could not be read, and
    the caveat."""
    sources = ", ".join(dict.fromkeys(e.source for e in supporting))
    rest = f" ({basis}: {sources})" if basis else ""
    text = MEANINGS[verdict]
    notes = []
    if any(e.basis == REMOTE for e in evidence):
        notes.append("The file points to a C2PA manifest elsewhere, which was not fetched.")
    unread = sum(e.signal in (LIMIT, ERROR) for e in evidence)
    if unread:
        notes.append(f"{unread} metadata item(s) were over a limit or unreadable (see evidence).")
    return " ".join([f"{text[0].upper()}{text[1:]}{rest}.", *notes, CAVEAT])
