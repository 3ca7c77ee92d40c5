"""Generator text chunks in PNG, comments in JPEG, XMP in JPEG/PNG/WebP, EXIF camera data, and
what is left of each after stripping; the verdict rules."""

from __future__ import annotations

import pytest
from provenancefiles import (
    camera_exif,
    encode,
    jpeg_with_exif,
    png_with_text,
    stripped,
    xmp_packet,
)

from fakescope.provenance import Evidence, read_provenance_bytes
from fakescope.provenance.verdict import decide

A1111 = ("portrait of a woman\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, "
         "CFG scale: 7, Seed: 42, Size: 512x512, Model: sd15")


def fields(data: bytes) -> dict[str, Evidence]:
    return {f"{e.source}:{e.field}": e for e in read_provenance_bytes(data).evidence}


@pytest.mark.parametrize(("chunks", "compressed"), [
    ({"parameters": A1111}, False),  # AUTOMATIC1111 / Forge
    ({"prompt": '{"3": {"class_type": "KSampler"}}', "workflow": '{"nodes": []}'}, True),  # ComfyUI
    ({"Software": "NovelAI", "Comment": '{"prompt": "a cat", "steps": 28}'}, False),
    ({"Description": A1111}, True),
])
def test_generator_text_chunks_declare_generated(chunks: dict[str, str], compressed: bool) -> None:
    data = png_with_text(chunks, compressed=compressed)
    result = read_provenance_bytes(data)
    assert result.verdict == "declared-generated"
    assert result.basis == "unsigned metadata"
    assert all(e.source == "png-text" for e in result.key_evidence())
    assert read_provenance_bytes(stripped(data)).verdict == "no-provenance"


def test_ordinary_png_text_is_listed_but_declares_nothing() -> None:
    result = read_provenance_bytes(png_with_text({"Title": "holiday", "Author": "me"}))
    assert result.verdict == "no-provenance"
    assert [(e.field, e.signal) for e in result.evidence] == [("Title", "info"),
                                                              ("Author", "info")]


def test_camera_exif_gives_camera_metadata_and_stripping_removes_it() -> None:
    data = jpeg_with_exif()
    found = fields(data)
    assert found["exif:Make"].value == "Canon"
    assert found["exif:Model"].value == "Canon EOS R6"
    assert found["exif:ISO"].value == "400"
    assert found["exif:ExposureTime"].value == "1/250"  # as cameras print it, not 0.004
    assert found["exif:LensModel"].value == "RF50mm F1.8 STM"
    assert found["exif:Software"].signal == "info"  # camera firmware
    assert read_provenance_bytes(data).verdict == "camera-metadata"
    assert read_provenance_bytes(stripped(data)).verdict == "no-provenance"


def test_a_camera_name_alone_is_not_camera_metadata() -> None:
    data = jpeg_with_exif(camera_exif(settings=False))
    assert read_provenance_bytes(data).verdict == "no-provenance"


@pytest.mark.parametrize(("software", "verdict"), [
    ("Adobe Photoshop 25.1 (Windows)", "declared-edited"),
    ("GIMP 2.10.36", "declared-edited"),
    ("Stable Diffusion XL", "declared-generated"),
])
def test_exif_software_on_a_camera_photo(software: str, verdict: str) -> None:
    data = jpeg_with_exif(camera_exif(software=software))
    assert read_provenance_bytes(data).verdict == verdict


def test_generation_parameters_in_a_jpeg_comment() -> None:
    data = encode("JPEG", comment=A1111.encode())
    assert fields(data)["jpeg-comment:comment"].signal == "generated"
    assert read_provenance_bytes(encode("JPEG", comment=b"CREATOR: gd-jpeg")).verdict == (
        "no-provenance")


def test_generation_parameters_in_exif_user_comment() -> None:
    from PIL import ExifTags

    exif = camera_exif(make="", model="", software="", settings=False)
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = (
        b"UNICODE\x00" + A1111.encode("utf-16-be"))
    found = fields(jpeg_with_exif(exif))
    assert found["exif:UserComment"].signal == "generated"
    assert found["exif:UserComment"].value.startswith("portrait of a woman Negative prompt")


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG"])
@pytest.mark.parametrize(("source_type", "verdict"), [
    ("trainedAlgorithmicMedia", "declared-generated"),
    ("compositeWithTrainedAlgorithmicMedia", "declared-generated"),
    ("algorithmicallyEnhanced", "declared-edited"),
    ("digitalCapture", "camera-metadata"),
    ("screenCapture", "no-provenance"),
])
def test_xmp_digital_source_type(fmt: str, source_type: str, verdict: str) -> None:
    packet = xmp_packet(source_type, as_element=fmt == "WEBP")
    if fmt == "PNG":
        data = png_with_text({"XML:com.adobe.xmp": packet.decode()}, compressed=True)
    else:
        data = encode(fmt, xmp=packet)
    result = read_provenance_bytes(data)
    assert fields(data)["xmp:DigitalSourceType"].value == source_type
    assert result.verdict == verdict
    assert read_provenance_bytes(stripped(data)).verdict == "no-provenance"


def test_xmp_creator_tool() -> None:
    data = encode("JPEG", xmp=xmp_packet(None, creator_tool="Adobe Photoshop 25.0 (Macintosh)"))
    assert read_provenance_bytes(data).verdict == "declared-edited"


def test_verdict_priority_generated_over_edited_over_camera() -> None:
    def e(signal: str, source: str = "xmp", field: str = "x") -> Evidence:
        return Evidence(source, field, "v", signal)

    camera = [e("camera", "exif", "Make"), e("camera", "exif", "ISO")]
    assert decide(camera)[0] == "camera-metadata"
    assert decide([*camera, e("edited")])[0] == "declared-edited"
    assert decide([*camera, e("edited"), e("generated")])[0] == "declared-generated"
    assert decide([e("info"), e("error"), e("limit")])[0] == "no-provenance"
    unsigned_camera_claim = [Evidence("c2pa", "digitalSourceType", "digitalCapture", "camera",
                                      "invalid")]
    assert decide(unsigned_camera_claim)[0] == "no-provenance"


def test_values_from_files_are_one_clipped_line() -> None:
    data = png_with_text({"parameters": "line one\nline two\x00\x1b[31m" + "x" * 5000})
    (entry,) = read_provenance_bytes(data).evidence
    assert "\n" not in entry.value and "\x1b" not in entry.value and "\x00" not in entry.value
    assert len(entry.value) <= 200


@pytest.mark.parametrize(("key", "text", "signal"), [
    ("Description", "Runway show in Paris, spring collection", "info"),
    ("Comment", "a firefly at dusk", "info"),
    ("Software", "Adobe Firefly", "generated"),
    ("Software", "Runway Gen-4", "generated"),
    ("Comment", "Made with AI", "generated"),
    ("Description", "Created with Midjourney v7", "generated"),
])
def test_generator_names_in_free_text_only_when_unambiguous(key: str, text: str,
                                                             signal: str) -> None:
    from fakescope.provenance.classify import text_signal

    assert text_signal(key, text) == signal
