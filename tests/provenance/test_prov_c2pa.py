"""C2PA manifests on a JPEG and a PNG signed in the test with a test certificate chain, in
three states: valid (signer not trusted), tampered after signing, unsigned; plus a trusted
signer (its CA given as anchor) and a manifest that lives outside the file."""

from __future__ import annotations

import pytest
from provenancefiles import encode, manifest, sign, signing_pki, stripped, tamper

from fakescope.provenance import read_provenance_bytes
from fakescope.provenance.c2pa_reader import read_c2pa

pytest.importorskip("c2pa")
FORMATS = ("JPEG", "PNG")


@pytest.fixture(scope="module")
def signed() -> dict[str, bytes]:
    return {fmt: sign(encode(fmt), fmt) for fmt in (*FORMATS, "WEBP")}


@pytest.mark.parametrize("fmt", FORMATS)
def test_valid_manifest_is_read_but_its_test_signer_is_not_trusted(
    signed: dict[str, bytes], fmt: str
) -> None:
    result = read_provenance_bytes(signed[fmt], f"signed.{fmt.lower()}")
    c2pa = result.c2pa
    assert c2pa is not None
    assert c2pa.state == "valid-untrusted"
    assert "no trust list" in c2pa.meaning
    assert c2pa.signer == "fakescope test signer (fakescope tests)"
    assert c2pa.claim_generator == "Test Studio 1.0"
    assert c2pa.digital_source_types == ["trainedAlgorithmicMedia"]
    assert c2pa.actions == ["c2pa.created (trainedAlgorithmicMedia) by TestGen 2"]
    assert c2pa.failures == ["signingCredential.untrusted"]
    assert result.verdict == "declared-generated"
    assert result.basis == "C2PA manifest, signature valid, signer not on a trust list"
    assert "trusted" not in result.basis.replace("not on a trust list", "")
    assert "claim, not proof" in result.summary


@pytest.mark.parametrize("fmt", FORMATS)
def test_tampered_after_signing_is_invalid_never_trusted(
    signed: dict[str, bytes], fmt: str
) -> None:
    result = read_provenance_bytes(tamper(signed[fmt], fmt))
    assert result.c2pa is not None
    assert result.c2pa.state == "invalid"
    assert "assertion.dataHash.mismatch" in result.c2pa.failures
    assert "not bound to this file" in result.c2pa.meaning
    assert result.basis == "C2PA manifest that failed validation"
    changed = [e for e in result.evidence if e.field == "content"]
    assert changed and changed[0].signal == "edited"
    # the generated claim is still listed, marked as coming from the invalid manifest
    assert result.verdict == "declared-generated"
    assert {e.basis for e in result.evidence if e.source == "c2pa"} == {"invalid"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_unsigned_copy_has_no_manifest(signed: dict[str, bytes], fmt: str) -> None:
    for data in (encode(fmt), stripped(signed[fmt])):
        result = read_provenance_bytes(data)
        assert result.c2pa is None
        assert result.verdict == "no-provenance"
        assert not [e for e in result.evidence if e.source == "c2pa"]


def test_signer_is_trusted_only_when_its_ca_is_given_as_anchor(signed: dict[str, bytes]) -> None:
    result = read_provenance_bytes(signed["JPEG"], trust_anchors=signing_pki().ca_pem)
    assert result.c2pa is not None and result.c2pa.state == "trusted"
    assert result.basis == "C2PA manifest, signer trusted"
    tampered = read_provenance_bytes(tamper(signed["JPEG"], "JPEG"),
                                     trust_anchors=signing_pki().ca_pem)
    assert tampered.c2pa is not None and tampered.c2pa.state == "invalid"


def test_webp_manifest(signed: dict[str, bytes]) -> None:
    summary, _ = read_c2pa(signed["WEBP"])
    assert summary is not None and summary.state == "valid-untrusted"


def test_a_declared_capture_from_a_valid_manifest_is_camera_evidence() -> None:
    camera = manifest("digitalCapture", generator="Test Camera App", agent="Test Camera")
    data = sign(encode("JPEG"), "JPEG", camera)
    assert read_provenance_bytes(data).verdict == "camera-metadata"
    # once the pixels changed, the capture claim no longer counts, and the change is an edit
    assert read_provenance_bytes(tamper(data, "JPEG")).verdict == "declared-edited"


def test_a_capture_then_edited_declares_edited() -> None:
    edited = manifest("digitalCapture", then=("c2pa.color_adjustments",),
                      generator="Test Editor", agent="Test Editor")
    result = read_provenance_bytes(sign(encode("PNG"), "PNG", edited))
    assert result.verdict == "declared-edited"
    assert result.c2pa is not None
    assert result.c2pa.actions[-1] == "c2pa.color_adjustments by Test Editor"


def test_manifest_pointing_outside_the_file_is_not_fetched() -> None:
    data = sign(encode("JPEG"), "JPEG", remote_url="http://127.0.0.1:9/manifest.c2pa")
    result = read_provenance_bytes(data)
    assert result.c2pa is not None and result.c2pa.state == "remote"
    assert result.c2pa.remote_url == "http://127.0.0.1:9/manifest.c2pa"
    assert result.verdict == "no-provenance"
    assert "not fetched" in result.summary


def test_threads_share_the_reader(signed: dict[str, bytes]) -> None:
    """The server reads uploads in several threads through one shared c2pa context."""
    from concurrent.futures import ThreadPoolExecutor

    files = [signed["JPEG"], tamper(signed["PNG"], "PNG")] * 20
    with ThreadPoolExecutor(4) as pool:
        states = list(pool.map(lambda d: read_c2pa(d)[0].state, files))  # type: ignore[union-attr]
    assert states == ["valid-untrusted", "invalid"] * 20


def test_reading_never_fetches_the_remote_manifest() -> None:
    """A manifest URL on a local server that counts requests: reading sends none."""
    import http.server
    import threading

    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/manifest.c2pa"
        result = read_provenance_bytes(sign(encode("PNG"), "PNG", remote_url=url))
    finally:
        server.shutdown()
    assert result.c2pa is not None and result.c2pa.state == "remote"
    assert requests == []
