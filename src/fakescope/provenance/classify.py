"""What metadata values mean: IPTC digital source types, generator and editor names, and the
text that image generators write beside their pictures."""

from __future__ import annotations

import re

from fakescope.provenance.evidence import CAMERA, EDITED, GENERATED, INFO

IPTC_SOURCE_TYPES = "http://cv.iptc.org/newscodes/digitalsourcetype/"

# IPTC NewsCodes "Digital Source Type" (also C2PA's vocabulary), by what they declare.
DIGITAL_SOURCE_TYPES: dict[str, str] = {
    "trainedAlgorithmicMedia": GENERATED,  # made by a trained model (generative AI)
    "compositeWithTrainedAlgorithmicMedia": GENERATED,  # partly generated (e.g. generative fill)
    "algorithmicMedia": GENERATED,  # made by an algorithm without training data
    "compositeSynthetic": GENERATED,  # a composite including synthetic elements
    "algorithmicallyEnhanced": EDITED,
    "humanEdits": EDITED,
    "minorHumanEdits": EDITED,
    "composite": EDITED,
    "digitalCapture": CAMERA,
    "computationalCapture": CAMERA,
    "compositeCapture": CAMERA,
    "negativeFilm": CAMERA,
    "positiveFilm": CAMERA,
    "print": CAMERA,
    "digitalCreation": INFO,
    "digitalArt": INFO,
    "dataDrivenMedia": INFO,
    "screenCapture": INFO,
    "virtualRecording": INFO,
    "softwareImage": INFO,
}
_SOURCE_TYPES_LOWER = {k.lower(): v for k, v in DIGITAL_SOURCE_TYPES.items()}

# Names that only ever mean an image generator, even inside free text such as a description.
_UNAMBIGUOUS = (
    r"stable[ _-]?diffusion|\bsdxl\b|midjourney|\bdall[ ·._-]?e\b|novel ?ai|comfy ?ui|"
    r"automatic1111|\ba1111\b|invoke ?ai|fooocus|stylegan|dreamstudio|thispersondoesnotexist|"
    r"\b(?:generated|created|made) (?:by|with|using) (?:an )?ai\b|\bai[- ]generated\b"
)
# Names that are ordinary words too ("firefly", "runway", "flux"): generators only where a
# field names the software (EXIF Software, XMP CreatorTool, a C2PA claim generator or agent).
_SOFTWARE_ONLY = (
    r"\bfirefly\b|\bimagen\b|ideogram|leonardo[ .]?ai|\bflux(?:\.1)?\b|\bdcgan\b|"
    r"\bfakescope\b|\bdiffusers\b|image creator|gpt-image|\bsora\b|\brunway\b|craiyon|"
    r"nightcafe"
)
GENERATOR_NAMES = re.compile(f"{_UNAMBIGUOUS}|{_SOFTWARE_ONLY}", re.IGNORECASE)
GENERATOR_TEXT = re.compile(_UNAMBIGUOUS, re.IGNORECASE)
# Editors: their name in Software or CreatorTool declares the picture was edited.
EDITOR_NAMES = re.compile(
    r"photoshop|lightroom|\bgimp\b|affinity photo|pixelmator|snapseed|paint\.net|capture one|"
    r"darktable|rawtherapee|picsart|facetune|\bcanva\b|luminar|photopea|\bfotor\b|"
    r"imagemagick|photoscape|\bacdsee\b",
    re.IGNORECASE,
)
# PNG text keywords (lower case) written by image generators: A1111/Forge `parameters`,
# ComfyUI `prompt` and `workflow`, InvokeAI `sd-metadata`/`invokeai_*`, `Dream`, NovelAI.
GENERATOR_KEYWORDS = frozenset({
    "parameters", "prompt", "workflow", "negative_prompt", "sd-metadata", "invokeai_metadata",
    "invokeai_graph", "dream", "generation_data", "ai_metadata", "fooocus_scheme",
    "sd_metadata", "generation parameters",
})  # fmt: skip
# Keywords whose value names the software that wrote the file.
SOFTWARE_KEYWORDS = frozenset({"software", "source", "creator tool", "creatortool", "generator"})
# A1111-style "Steps: 20, Sampler: Euler a, CFG scale: 7" or a JSON prompt/workflow.
_PARAMETER_TEXT = re.compile(
    r"\bNegative prompt:|\bSteps: \d+,.*\b(?:Sampler|Seed|CFG scale):|"
    r'"(?:prompt|negative_prompt|workflow|sampler_name|cfg_scale|cfg)"\s*:',
    re.IGNORECASE | re.DOTALL,
)


def source_type_name(value: str) -> str:
    """The term of a digital source type given as an IPTC/C2PA URL or as the bare term."""
    return value.strip().rstrip("/").rsplit("/", 1)[-1]


def source_type_signal(value: str) -> str:
    """What a digital source type declares: generated, edited, camera, or info (unknown)."""
    return _SOURCE_TYPES_LOWER.get(source_type_name(value).lower(), INFO)


def software_signal(name: str) -> str:
    """Generator names declare generated, editor names edited; other software is info."""
    if GENERATOR_NAMES.search(name):
        return GENERATED
    if EDITOR_NAMES.search(name):
        return EDITED
    return INFO


def looks_like_generation_parameters(text: str) -> bool:
    """Text an image generator writes: its prompt, sampler settings or node workflow, or free
    text naming a generator that has no other meaning."""
    text = text[:65536]
    return bool(_PARAMETER_TEXT.search(text) or GENERATOR_TEXT.search(text))


def text_signal(keyword: str, text: str) -> str:
    """What a named text field (PNG chunk, comment) declares."""
    key = keyword.strip().lower()
    if key in GENERATOR_KEYWORDS:
        return GENERATED
    if key in SOFTWARE_KEYWORDS:
        return software_signal(text[:1024])
    if looks_like_generation_parameters(text):
        return GENERATED
    return INFO
