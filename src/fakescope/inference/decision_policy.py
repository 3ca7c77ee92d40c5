"""The settings of the joint decision (`fakescope.inference.decision`): how far metadata claims
may decide against, or beside, the pixel detector.

    trust_unsigned_generated  (yes) when no, an unsigned declaration of generation no longer
                              decides alone: with a fake verdict it is likely-generated, with
                              any other it goes to review
    capture_review_from       (signed) the weakest capture claim that turns a fake verdict into
                              review: unsigned | signed | trusted | never; weaker claims leave
                              it likely-generated
    capture_override_from     (never) the weakest capture claim that overrides a fake verdict:
                              unsigned | signed | trusted | never; a trusted one then gives
                              captured, a weaker one likely-real; checked before review

Kept apart from the table so that settings (`fakescope.serve.settings`) can name a policy
without importing the provenance readers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from fakescope.config import ConfigError

# Capture claims from weakest to strongest; "never" is above them all.
STRENGTHS = ("unsigned", "signed", "trusted", "never")
Strength = Literal["unsigned", "signed", "trusted", "never"]


@dataclass(frozen=True)
class DecisionPolicy:
    """How far metadata claims may decide (see the module docstring for what each changes)."""

    trust_unsigned_generated: bool = True
    capture_review_from: Strength = "signed"
    capture_override_from: Strength = "never"

    def __post_init__(self) -> None:
        for name in ("capture_review_from", "capture_override_from"):
            value = getattr(self, name)
            if value not in STRENGTHS:
                raise ConfigError(f"{name} must be one of {', '.join(STRENGTHS)}, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_POLICY = DecisionPolicy()


def parse_policy(text: str) -> DecisionPolicy:
    """A policy from "key=value,key=value" (keys as `DecisionPolicy`'s fields; yes/no for the
    flag); "" or "default" gives `DEFAULT_POLICY`. ConfigError with one line when malformed."""
    if text.strip() in ("", "default"):
        return DEFAULT_POLICY
    names = [f.name for f in fields(DecisionPolicy)]
    values: dict[str, Any] = {}
    for item in text.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or key not in names:
            raise ConfigError(
                f"decision policy: expected key=value with a key among {', '.join(names)}, "
                f"got {item.strip()!r}"
            )
        if key == "trust_unsigned_generated":
            if value.lower() not in ("yes", "no", "true", "false"):
                raise ConfigError(f"decision policy: {key} must be yes or no, got {value!r}")
            values[key] = value.lower() in ("yes", "true")
        else:
            values[key] = value
    return DecisionPolicy(**values)
