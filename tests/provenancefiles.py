"""Image files with provenance, made by the tests themselves: C2PA-signed with a test
certificate chain generated here (no network, no shipped keys), PNGs with generator text
chunks, JPEGs with camera EXIF, XMP with IPTC digital source types, and stripped copies."""

from __future__ import annotations

import datetime
import functools
import io
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import ExifTags, Image, PngImagePlugin

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class SigningPki:
    """A test CA and an ES256 end-entity certificate it signed, in PEM."""

    ca_pem: str
    chain_pem: str  # end-entity first, then the CA
    key_pem: str


@functools.lru_cache(maxsize=1)
def signing_pki() -> SigningPki:
    """C2PA wants a CA-issued end-entity certificate with digitalSignature key usage and an
    allowed extended key usage (here emailProtection), not a self-signed one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fakescope tests")])

    def usage(signing: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=signing, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=not signing,
            crl_sign=not signing, encipher_only=False, decipher_only=False,
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("fakescope test CA"))
        .issuer_name(name("fakescope test CA")).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(signing=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(name("fakescope test signer"))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(signing=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return SigningPki(
        ca_pem=ca.public_bytes(pem).decode(),
        chain_pem=(leaf.public_bytes(pem) + ca.public_bytes(pem)).decode(),
        key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()).decode(),
    )


def manifest(source_type: str = "trainedAlgorithmicMedia", then: tuple[str, ...] = (),
             generator: str = "Test Studio", agent: str = "TestGen 2") -> dict[str, Any]:
    """A manifest definition: c2pa.created declaring `source_type`, then the actions `then`."""
    created = {"action": "c2pa.created", "softwareAgent": {"name": agent},
               "digitalSourceType": IPTC + source_type}
    steps = [created, *({"action": a, "softwareAgent": {"name": agent}} for a in then)]
    return {
        "claim_generator_info": [{"name": generator, "version": "1.0"}],
        "title": "test picture",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": steps}}],
    }


def sign(data: bytes, fmt: str, definition: dict[str, Any] | None = None,
         remote_url: str | None = None) -> bytes:
    """`data` (JPEG, PNG or WebP bytes) with a C2PA manifest signed by the test certificate;
    with `remote_url`, the manifest is not embedded and the file points there instead."""
    import c2pa

    pki = signing_pki()
    settings = c2pa.Settings.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    context = c2pa.Context(settings=settings)
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, pki.chain_pem.encode(),
                            pki.key_pem.encode(), None)
    )
    out = io.BytesIO()
    with c2pa.Builder(definition or manifest(), context) as builder:
        if remote_url:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        builder.sign(signer, MIME[fmt], io.BytesIO(data), out)
    return out.getvalue()


def tamper(signed: bytes, fmt: str) -> bytes:
    """Change pixel bytes after signing, so the manifest's hash over the file no longer
    matches (the manifest itself stays intact)."""
    data = bytearray(signed)
    # inside the PNG's first IDAT; or the JPEG's entropy-coded pixels just before its end
    position = data.index(b"IDAT") + 12 if fmt == "PNG" else len(data) - 10
    data[position] ^= 0x5A
    return bytes(data)


def picture(size: tuple[int, int] = (48, 40), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    width, height = size
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def encode(fmt: str = "PNG", image: Image.Image | None = None, **options: Any) -> bytes:
    buffer = io.BytesIO()
    (image or picture()).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_with_text(chunks: dict[str, str], compressed: bool = False) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        if compressed:
            info.add_itxt(key, value, zip=True)
        else:
            info.add_text(key, value)
    return encode("PNG", pnginfo=info)


def camera_exif(make: str = "Canon", model: str = "Canon EOS R6",
                software: str = "Firmware Version 1.8.1", settings: bool = True) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = make
    exif[ExifTags.Base.Model] = model
    if software:
        exif[ExifTags.Base.Software] = software
    if settings:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        sub[ExifTags.Base.ExposureTime] = 0.004
        sub[ExifTags.Base.FNumber] = 2.8
        sub[ExifTags.Base.ISOSpeedRatings] = 400
        sub[ExifTags.Base.FocalLength] = 50.0
        sub[ExifTags.Base.DateTimeOriginal] = "2026:11:30 10:15:00"
        sub[ExifTags.Base.LensModel] = "RF50mm F1.8 STM"
    return exif


def jpeg_with_exif(exif: Image.Exif | None = None, comment: bytes | None = None) -> bytes:
    options: dict[str, Any] = {"exif": (exif or camera_exif()).tobytes(), "quality": 90}
    if comment is not None:
        options["comment"] = comment
    return encode("JPEG", **options)


def xmp_packet(source_type: str | None = "trainedAlgorithmicMedia",
               creator_tool: str | None = None, as_element: bool = False) -> bytes:
    """An XMP packet with the IPTC digital source type, as an attribute or an element."""
    attributes = ""
    elements = ""
    if source_type is not None:
        if as_element:
            elements += (f"<Iptc4xmpExt:DigitalSourceType>{IPTC}{source_type}"
                         "</Iptc4xmpExt:DigitalSourceType>")
        else:
            attributes += f' Iptc4xmpExt:DigitalSourceType="{IPTC}{source_type}"'
    if creator_tool is not None:
        attributes += f' xmp:CreatorTool="{creator_tool}"'
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'xmlns:xmp="http://ns.adobe.com/xap/1.0/"{attributes}>{elements}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def stripped(data: bytes) -> bytes:
    """The same pixels re-encoded with no metadata at all (what most sites serve)."""
    with Image.open(io.BytesIO(data)) as image:
        fmt = image.format or "PNG"
        bare = Image.frombytes(image.mode, image.size, image.tobytes())
    return encode(fmt, bare)


def png_chunk(kind: bytes, body: bytes, length: int | None = None) -> bytes:
    """A raw PNG chunk (with a lying `length` when given; the CRC is right for `body`)."""
    size = len(body) if length is None else length
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return size.to_bytes(4, "big") + kind + body + crc.to_bytes(4, "big")


def png_with_raw_chunks(*chunks: bytes) -> bytes:
    """A valid PNG with `chunks` inserted right after its header chunk."""
    data = encode("PNG")
    ihdr_end = 8 + 8 + 13 + 4
    return data[:ihdr_end] + b"".join(chunks) + data[ihdr_end:]
