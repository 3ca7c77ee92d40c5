"""Typed configuration: dataclass defaults < YAML preset < command-line overrides.

Every job (GAN training, detector training, search, ...) describes its settings as a tree of
dataclasses. `load_config` builds that tree from a preset file and `key=value` overrides and
checks every key and type on the way, so a typo fails loudly with the key's dotted name instead
of being ignored.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from fakescope.errors import FakescopeError

T = TypeVar("T")
V = TypeVar("V")
S = TypeVar("S", bound="TextSetting")

# The presets ship inside the package (package data), so a wheel or a plain `pip install .`
# finds them by name as well as an editable checkout does.
PRESET_DIR: Traversable = resources.files("fakescope") / "presets"
SEED_LIMIT = 2**32 - 1  # numpy's seeds are 32-bit


class ConfigError(FakescopeError, ValueError):
    """A preset or override does not fit the config's schema; the message names the key."""


class TextSetting(abc.ABC):
    """A config value written as one string in presets and `--set` (a detector's `pretrained`):
    `parse` reads that string, `str()` writes it back, so a config saves and loads unchanged."""

    @classmethod
    @abc.abstractmethod
    def parse(cls: type[S], text: str) -> S:
        """The value `text` names; a ConfigError says in one line what was expected."""


@dataclasses.dataclass
class AugmentConfig:
    """Train-time augmentations, applied after the deterministic preprocessing."""

    hflip: bool = False
    color_jitter: float = 0.0  # strength for brightness, contrast and saturation; 0 turns it off
    jpeg_prob: float = 0.0  # probability of re-compressing an image as JPEG
    jpeg_quality: tuple[int, int] = (30, 95)
    blur_prob: float = 0.0  # probability of a Gaussian blur
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    random_resized_crop: float = 1.0  # smallest area fraction kept; 1.0 turns it off


@dataclasses.dataclass
class DataConfig:
    """Where the images are, how they are laid out, split, limited and preprocessed."""

    path: str = ""
    layout: str = "auto"
    image_size: int | None = None  # None: the model's own input size
    resize: Literal["short_side_crop", "resize"] = "short_side_crop"
    # "model" takes the mean/std from the model's own input spec.
    normalize: Literal["model", "minus_one_one", "imagenet"] = "model"
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    limit_per_class: int | None = None
    limit_fraction: float | None = None  # keep this share of each class and split (search subsets)
    face_crop: bool = False
    face_margin: float = 0.25
    cache: bool = True
    cache_dir: str = ".fakescope_cache"
    num_workers: int = 0  # processes decoding images into the cache; 0: one per core, up to 8
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)


@dataclasses.dataclass
class RunConfig:
    """Where a job writes, and how it seeds and places its work."""

    name: str = "run"
    root: str = "runs"
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"  # auto | cpu | cuda | cuda:N


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _describe(tp: Any) -> str:
    """What a value of type `tp` looks like, in words a config error can show."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [_describe(o) for o in get_args(tp) if o is not type(None)]
        if type(None) in get_args(tp):
            options.append("null")
        return " or ".join(options)
    if origin is Literal:
        return " or ".join(repr(c) for c in get_args(tp))
    if origin in (tuple, list):
        return "a list"
    if origin is dict or (dataclasses.is_dataclass(tp) and isinstance(tp, type)):
        return "a mapping"
    if isinstance(tp, type) and issubclass(tp, TextSetting):
        return "a string"
    words = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return words.get(tp, _type_name(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Return `value` converted to type `tp`, or raise ConfigError naming `key`."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if isinstance(tp, type) and issubclass(tp, TextSetting):
        if isinstance(value, tp):
            return value
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        try:
            return tp.parse(value)
        except ConfigError as err:
            raise ConfigError(f"{key}: {err}") from err
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_describe(tp)}, got {value!r}")
    if origin is Literal:
        if value in get_args(tp):
            return value
        choices = ", ".join(repr(c) for c in get_args(tp))
        raise ConfigError(f"{key}: expected one of {choices}, got {value!r}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return from_dict(tp, value, prefix=f"{key}.")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)}")
            pairs = enumerate(zip(value, args, strict=True))
            return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in pairs)
        item = args[0] if args else Any
        items = [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported config type {_type_name(tp)}")


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields))
        raise ConfigError(f"unknown config key '{prefix}{unknown[0]}' (known here: {known})")
    required = [name for name, f in fields.items() if name not in data and f.init
                and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if required:
        raise ConfigError(f"config key '{prefix}{required[0]}' is required here")
    kwargs = {name: _coerce(value, hints[name], prefix + name) for name, value in data.items()}
    return cls(**kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    """A plain, YAML-safe dict of a config tree (tuples become lists, a TextSetting its text)."""

    def plain(value: Any) -> Any:
        if isinstance(value, TextSetting):
            return str(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return typing.cast(dict[str, Any], plain(config))


def _leaves(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every non-mapping value in a `to_dict` tree."""
    for name, value in tree.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, f"{prefix}{name}.")
        else:
            yield prefix + name, value


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override '{dotted}': '{part}' is not a section")
        node = child
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Split `key.sub=value`; the value is read as YAML, so `0.1`, `true`, `[1, 2]` keep types."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override '{text}' has no key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def merge_overrides(flags: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """A command's dedicated flags (None: not given) and its `--set key=value` strings as one
    dict of overrides. A key given both ways with different values is an error, not a silent
    choice of one (an invalid `--set` would otherwise pass unnoticed under a flag)."""
    merged = {k: v for k, v in flags.items() if v is not None}
    given = dict.fromkeys(merged, "a flag")
    for text in sets:
        key, value = parse_override(text)
        if key in merged and merged[key] != value:
            raise ConfigError(f"{key} is given twice, as {given[key]} ({merged[key]!r}) and as "
                              f"--set {text.strip()}: give it once")
        merged[key], given[key] = value, f"--set {text.strip()}"
    return merged


def changed_settings(before: T, after: T) -> dict[str, Any]:
    """The dotted keys and plain values of the settings `after` changed from `before`: what to
    pass as `--set key=value` to a command run in another process, and what to record."""
    old = dict(_leaves(to_dict(before)))
    return {key: value for key, value in _leaves(to_dict(after)) if old.get(key) != value}


def set_strings(before: T, after: T) -> list[str]:
    """`--set key=value` strings that turn `before` into `after`, for a command a script starts
    in another process (the values in JSON, which YAML reads back unchanged)."""
    return [f"{key}={json.dumps(value)}" for key, value in changed_settings(before, after).items()]


def given(flag: V | None, current: V) -> V:
    """A command's flag where the user gave it (not None), else the config's current value."""
    return current if flag is None else flag


def load_with_flags(
    cls: type[T], preset: str | Path | None, sets: Sequence[str], flags: Callable[[T], T]
) -> T:
    """A command's config: the preset, its `--set key=value` strings, then `flags` (see
    `with_flags`)."""
    return with_flags(load_config(cls, preset), sets, flags)


def with_flags(config: T, sets: Sequence[str], flags: Callable[[T], T]) -> T:
    """`config` with the `--set key=value` strings `sets`, then `flags`, which applies a
    command's dedicated flags with `dataclasses.replace` (so a renamed field is a type error,
    not a key that fails at run time). A flag that changes a key a `--set` also gave is an
    error, not a silent choice of one."""
    config = override_settings(config, sets)
    flagged = from_dict(type(config), to_dict(flags(config)))  # checked like a preset's values
    changed = changed_settings(config, flagged)
    for text in sets:
        key = parse_override(text)[0]
        if key in changed:
            raise ConfigError(f"{key} is given twice, as a flag ({changed[key]!r}) and as "
                              f"--set {text.strip()}: give it once")
    return flagged


def override_settings(base: T, overrides: dict[str, Any] | Sequence[str]) -> T:
    """Settings already built (serve's or bench's defaults, a job config a workflow filled in)
    with overrides applied: dotted keys to values, or `key=value` strings from `--set`. `base`
    is rebuilt through `from_dict`, so an override is checked like a preset's value would be."""
    items = overrides.items() if isinstance(overrides, dict) else map(parse_override, overrides)
    tree = to_dict(base)
    for key, value in items:
        _set_dotted(tree, key, value)
    return from_dict(type(base), tree)


def preset_names() -> list[str]:
    """The names of the presets that ship with fakescope (`fakescope/presets/*.yaml`)."""
    return sorted(p.name[: -len(".yaml")] for p in PRESET_DIR.iterdir() if p.name.endswith(".yaml"))


def preset_summary(name: str) -> tuple[str, str]:
    """A shipped preset's command (`train`, `gan train`, `search` or `demo`, from the keys it
    sets) and one line on it: its `paper:` key, else the first sentence of its leading comment."""
    text = (PRESET_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    model = data.get("model")
    if "search" in data:
        command = "search"
    elif isinstance(model, dict):
        command = "train" if "name" in model else "gan train"
    else:
        command = "demo"
    if data.get("paper"):
        return command, str(data["paper"])
    comment = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("# ").strip())
    first = " ".join(comment).split(". ")[0].rstrip(".")
    return command, first if len(first) <= 90 else first[:90].rsplit(" ", 1)[0] + " …"


def resolve_preset(preset: str | Path) -> Path | Traversable:
    """A preset is a YAML path, or the name of a preset shipped in `fakescope/presets/`."""
    path = Path(preset)
    if path.is_file():
        return path
    named = PRESET_DIR / f"{preset}.yaml"
    if named.is_file():
        return named
    raise ConfigError(f"config preset '{preset}' not found (no such file, and no preset of that "
                      f"name; presets: {', '.join(preset_names())})")


def read_preset(preset: str | Path) -> dict[str, Any]:
    path = resolve_preset(preset)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a preset must be a mapping of keys to values")
    return data


def _layered(under: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over`'s values on top of `under`'s, section by section."""
    merged = dict(under)
    for key, value in over.items():
        below = merged.get(key)
        if isinstance(below, dict) and isinstance(value, dict):
            value = _layered(below, value)
        merged[key] = value
    return merged


def load_config(
    cls: type[T],
    preset: str | Path | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
    base: T | None = None,
) -> T:
    """Defaults of `cls` (or `base`, a command's own defaults), then the preset's values, then
    the overrides, checked at every step.

    `overrides` is either a list of `key.sub=value` strings (from `--set`) or a dict of dotted
    keys to already-typed values; a None value sets the key to None (`--set key=null`), so
    callers leave out the flags a user did not give (see `merge_overrides`).
    """
    tree: dict[str, Any] = read_preset(preset) if preset is not None else {}
    if tree:  # checked alone first, so its mistakes are not blamed on an override
        try:
            from_dict(cls, tree)
        except ConfigError as err:
            raise ConfigError(f"preset {resolve_preset(preset)}: {err}") from err  # type: ignore[arg-type]
    items: list[tuple[str, Any]]
    if overrides is None:
        items = []
    elif isinstance(overrides, dict):
        items = list(overrides.items())
    else:
        items = [parse_override(o) for o in overrides]
    for key, value in items:
        _set_dotted(tree, key, value)
    return from_dict(cls, tree if base is None else _layered(to_dict(base), tree))


def save_config(config: Any, path: Path) -> None:
    path.write_text(yaml.safe_dump(to_dict(config), sort_keys=False))


@dataclasses.dataclass
class JobConfig:
    """Fields every job shares; each stage's job config extends it with its own sections."""

    paper: str = ""  # the paper and table a preset reproduces, for people and reports
    run: RunConfig = dataclasses.field(default_factory=RunConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
