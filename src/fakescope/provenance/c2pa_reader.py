"""C2PA manifests (Content Credentials) read and validated with the `c2pa-python` package.

Validity and trust are different things, and the state says which one holds:

    trusted          the manifest validates and its signer chains to a trust anchor given
                     with `trust_anchors` (none are built in: without them nothing is trusted)
    valid-untrusted  the manifest validates (signature, hashes over the file) but its signer is
                     on no trust list: anyone can make such a certificate
    invalid          validation failed: the file changed after signing (hash mismatch), the
                     signature does not verify, or the certificate is bad; its claims are not
                     bound to this file, and they are never reported as trusted
    remote           the file points to a manifest elsewhere (a URL); nothing is fetched
    error            the manifest could not be read (damaged, over the size limit)

Reading never touches the network: remote manifests, OCSP and timestamp fetching are off and no
host is allowed. The native library gets the file's bytes from memory, already bounded by the
caller, and a manifest store over `max_manifest_mb` decompressed is refused. A JPEG or PNG that
cannot hold a manifest (`c2pa_precheck`) is answered without the parser, with the same result.
"""

from __future__ import annotations

import functools
import io
import json
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from fakescope.provenance.c2pa_precheck import may_hold_manifest
from fakescope.provenance.classify import (
    GENERATOR_NAMES,
    source_type_name,
    source_type_signal,
)
from fakescope.provenance.evidence import (
    CAMERA,
    EDITED,
    ERROR,
    GENERATED,
    INFO,
    LIMIT,
    Evidence,
    ProvenanceLimits,
    clean,
    error_line,
    human_bytes,
)

TRUSTED, VALID_UNTRUSTED, INVALID, REMOTE, FAILED = (
    "trusted", "valid-untrusted", "invalid", "remote", "error"
)  # fmt: skip
STATE_MEANINGS = {
    TRUSTED: "signature valid, signer chains to a configured trust anchor",
    VALID_UNTRUSTED: "signature valid, but the signer is on no trust list",
    INVALID: "failed validation: its claims are not bound to this file",
    REMOTE: "points to a manifest outside the file, which was not fetched",
    FAILED: "could not be read",
}
# Validation failures meaning the pixels (or other bytes) changed after signing.
CONTENT_CHANGED = ("dataHash.mismatch", "bmffHash.mismatch", "boxesHash.mismatch",
                   "collectionHash.mismatch")
# Actions that change the picture (without a digital source type of their own).
EDIT_ACTIONS = frozenset({
    "c2pa.edited", "c2pa.color_adjustments", "c2pa.cropped", "c2pa.drawing", "c2pa.filtered",
    "c2pa.orientation", "c2pa.placed", "c2pa.removed", "c2pa.resized", "c2pa.edited.metadata",
})  # fmt: skip
MAX_MANIFESTS = 16
MAX_ACTIONS = 32
_context_lock = threading.Lock()


@dataclass(frozen=True)
class C2paSummary:
    """The active manifest of a file's C2PA manifest store, in short."""

    state: str  # trusted | valid-untrusted | invalid | remote | error
    meaning: str  # the state in words
    claim_generator: str = ""
    title: str = ""
    signer: str = ""  # certificate common name and issuer organisation
    signature_alg: str = ""
    signed_at: str = ""
    actions: list[str] = field(default_factory=list)
    digital_source_types: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # validation failure codes
    remote_url: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def network_free_settings(
    limits: ProvenanceLimits, trust_anchors: str | None = None
) -> dict[str, Any]:
    """c2pa settings: validate with trust checks, fetch nothing, bound the manifest size."""
    settings: dict[str, Any] = {
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
        "core": {
            "allowed_network_hosts": [],
            "max_decompressed_manifest_size_in_mb": limits.max_manifest_mb,
        },
    }
    if trust_anchors:
        settings["trust"] = {"user_anchors": trust_anchors}
    return settings


@functools.lru_cache(maxsize=8)
def _context(settings_json: str) -> Any:
    import c2pa

    return c2pa.Context(settings=c2pa.Settings.from_json(settings_json))


def read_c2pa(
    data: bytes, limits: ProvenanceLimits | None = None, trust_anchors: str | None = None
) -> tuple[C2paSummary | None, list[Evidence]]:
    """The file's C2PA manifest and the evidence it gives; (None, []) when it has none.

    `trust_anchors`: PEM certificates whose signers count as trusted. Never raises: a failure
    is a summary in state `error` and an error entry."""
    try:
        import c2pa
    except ImportError as err:
        return None, [Evidence("c2pa", "reader", f"c2pa-python not available ({err})", ERROR)]
    if not may_hold_manifest(data):  # what the parser would say, without its cost
        return None, []
    limits = limits or ProvenanceLimits()
    settings = json.dumps(network_free_settings(limits, trust_anchors), sort_keys=True)
    try:
        with _context_lock:  # one shared native context per settings
            context = _context(settings)
        reader = c2pa.Reader.try_create(None, io.BytesIO(data), None, context)
    except c2pa.C2paError as err:
        return _failed(err)
    except Exception as err:  # the native layer on hostile bytes: any failure is the file's
        summary = C2paSummary(FAILED, STATE_MEANINGS[FAILED])
        return summary, [Evidence("c2pa", "manifest", error_line(err), ERROR)]
    if reader is None:
        return None, []
    try:
        with reader:
            store_json = reader.json()
            remote = reader.get_remote_url() if not reader.is_embedded() else None
    except Exception as err:
        summary = C2paSummary(FAILED, STATE_MEANINGS[FAILED])
        return summary, [Evidence("c2pa", "manifest", error_line(err), ERROR)]
    if len(store_json) > limits.max_manifest_mb * 1024 * 1024:
        summary = C2paSummary(FAILED, STATE_MEANINGS[FAILED])
        note = f"manifest store of {human_bytes(len(store_json))} over the limit; not read"
        return summary, [Evidence("c2pa", "manifest", note, LIMIT)]
    return summarize_store(json.loads(store_json), remote)


def _failed(err: Exception) -> tuple[C2paSummary | None, list[Evidence]]:
    message = clean(str(err), 300)
    kind = message.split(":", 1)[0].strip()
    if kind == "NotSupported":  # not a format that can carry a manifest
        return None, []
    if kind in ("ManifestNotFound", "JumbfNotFound"):
        return None, []
    if kind.startswith("Remote"):
        url = clean(message.rsplit(" ", 1)[-1], 200)
        summary = C2paSummary(REMOTE, STATE_MEANINGS[REMOTE], remote_url=url)
        note = f"manifest referenced at {url}; not fetched (reading stays offline)"
        return summary, [Evidence("c2pa", "remote manifest", note, INFO, REMOTE)]
    summary = C2paSummary(FAILED, STATE_MEANINGS[FAILED])
    if "could not be parsed" in message:  # a damaged container: no telling if one is there
        note = f"could not look for a manifest: the file structure is damaged ({message})"
    else:
        note = f"unreadable ({message})"
    return summary, [Evidence("c2pa", "manifest", note, ERROR, FAILED)]


def _state(store: dict[str, Any]) -> tuple[str, list[str]]:
    failures = [
        clean(str(item.get("code", "")), 80)
        for item in (store.get("validation_status") or [])
        if isinstance(item, dict)
    ]
    raw = str(store.get("validation_state") or "").lower()
    if raw == "trusted":
        return TRUSTED, failures
    if raw == "valid":
        return VALID_UNTRUSTED, failures
    return INVALID, failures  # "invalid", or a state this version does not know


def _generator(manifest: dict[str, Any]) -> str:
    infos = manifest.get("claim_generator_info")
    if isinstance(infos, list) and infos and isinstance(infos[0], dict):
        first = infos[0]
        return clean(f"{first.get('name', '')} {first.get('version', '')}".strip(), 120)
    return clean(str(manifest.get("claim_generator") or ""), 120)


def _agent(action: dict[str, Any]) -> str:
    agent = action.get("softwareAgent")
    if isinstance(agent, dict):
        agent = agent.get("name", "")
    return clean(str(agent or ""), 80)


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict):
            continue
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        actions = (assertion.get("data") or {}).get("actions") or []
        found.extend(a for a in actions if isinstance(a, dict))
    return found[:MAX_ACTIONS]


def summarize_store(
    store: dict[str, Any], remote_url: str | None = None
) -> tuple[C2paSummary, list[Evidence]]:
    """The summary and evidence of a manifest store as `Reader.json()` gives it."""
    state, failures = _state(store)
    raw_manifests = store.get("manifests")
    manifests: dict[str, Any] = raw_manifests if isinstance(raw_manifests, dict) else {}
    active_label = store.get("active_manifest")
    found_active = manifests.get(str(active_label))
    active: dict[str, Any] = found_active if isinstance(found_active, dict) else {}
    evidence: list[Evidence] = []

    def add(field_name: str, value: str, signal: str) -> None:
        evidence.append(Evidence("c2pa", field_name, clean(value), signal, state))

    meaning = STATE_MEANINGS[state]
    real_failures = [f for f in failures if f != "signingCredential.untrusted"]
    if state == INVALID and real_failures:
        meaning += f" ({', '.join(real_failures[:4])})"
    generator = _generator(active)
    add("manifest", f"{state}: {meaning}" + (f"; claim generator {generator}" if generator
                                              else ""), INFO)
    if state == INVALID and any(f.endswith(CONTENT_CHANGED) for f in failures):
        add("content", "changed after signing (hash mismatch)", EDITED)
    if generator and GENERATOR_NAMES.search(generator):
        add("claim_generator", generator, GENERATED)
    action_texts: list[str] = []
    source_types: list[str] = []
    ordered = [active] + [m for k, m in manifests.items() if k != active_label]
    for index, manifest in enumerate(ordered[:MAX_MANIFESTS]):
        if not isinstance(manifest, dict):
            continue
        where = "" if index == 0 else "ingredient "
        for action in _actions(manifest):
            name = clean(str(action.get("action", "")), 60)
            source = action.get("digitalSourceType")
            agent = _agent(action)
            text = name + (f" ({source_type_name(str(source))})" if source else "")
            text += f" by {agent}" if agent else ""
            if index == 0:
                action_texts.append(text)
            if source:
                term = source_type_name(str(source))
                source_types.append(term)
                add(f"{where}digitalSourceType", term, source_type_signal(str(source)))
            elif name in EDIT_ACTIONS:
                add(f"{where}action", text, EDITED)
            if agent and GENERATOR_NAMES.search(agent):
                add(f"{where}softwareAgent", agent, GENERATED)
    raw_signature = active.get("signature_info")
    signature: dict[str, Any] = raw_signature if isinstance(raw_signature, dict) else {}
    signer = clean(str(signature.get("common_name") or ""), 80)
    issuer = clean(str(signature.get("issuer") or ""), 80)
    summary = C2paSummary(
        state=state,
        meaning=meaning,
        claim_generator=generator,
        title=clean(str(active.get("title") or ""), 120),
        signer=f"{signer} ({issuer})" if signer and issuer else signer or issuer,
        signature_alg=clean(str(signature.get("alg") or ""), 20),
        signed_at=clean(str(signature.get("time") or ""), 40),
        actions=action_texts,
        digital_source_types=list(dict.fromkeys(source_types)),
        failures=failures,
        remote_url=clean(remote_url or "", 200),
    )
    # A claim of capture from a manifest that failed validation is no camera evidence.
    if state == INVALID:
        evidence = [e if e.signal != CAMERA else Evidence(e.source, e.field, e.value, INFO,
                                                          e.basis) for e in evidence]
    return summary, evidence
