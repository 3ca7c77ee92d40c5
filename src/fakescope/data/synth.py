"""Synthetic demo faces, drawn from numbers alone, so the demo and the tests need no download.

`synthesize_dataset(out, n)` writes a binary class-folder dataset: `out/real/face_00000.jpg ...`
and, with `fakes=True`, as many images in `out/fake/`.

Real class: cartoon-like faces drawn with Pillow and numpy at twice the target size and reduced
(anti-aliasing). Each face varies its shape and jaw, skin tone (a light-to-deep ramp), eyes (size,
spacing, iris colour, gaze), brows, nose, mouth (width, smile, lip colour), hair (style, colour,
fringe, or none), facial hair, glasses, clothes, background (flat, gradient or blurred clutter),
lighting direction (Lambert shading on an ellipsoid head), head position, scale and a small roll,
sensor noise, and JPEG quality.

Fake class: a *stand-in* for generator output, not a real deepfake. The same face generator draws
a face, then the kinds of trace generators are known to leave are added: the face is reduced to 1/4
of its side; on that coarse picture one part of the face gets a slight colour shift and blotchy
texture the rest lacks; two stride-2 upsamplings (nearest, or smoothed like a transposed
convolution) bring it back, each imprinting a periodic 2x2 gain (a checkerboard of 3-6 %); only
30-70 % of the fine detail lost on the way is restored, so skin and edges are smoother; sensor noise
is lighter. Mean colour does not separate the classes (a logistic regression on it scores 51 % on
64x64 images); the difference lives in high frequencies, which a small CNN learns (a three-layer
CNN reaches about 90 % after 30 epochs on 960 64x64 images). A detector trained on these images has
learned these particular traces, nothing about real deepfakes.

Every image is drawn by its own generator seeded from (seed, class, index), so a file's bytes
depend only on those numbers and the size: the same arguments write the same bytes, and image i is
the same whatever n is.

Speed of one process, in CPU time on a shared 2-core AMD EPYC machine, JPEG encoding and writing
included: about 220 images/s at 128x128 (180/s for a half-fake set) and 95/s at 256x256 (85/s
half fake). 2,000 256x256 reals took 19 s of CPU and 40 s of wall clock with the machine three
times oversubscribed.
"""

from __future__ import annotations

import io
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

from fakescope.config import ConfigError
from fakescope.data.images import is_image_name

MIN_SIZE, MAX_SIZE = 16, 1024
CLASS_NAMES = ("real", "fake")
FILE_PATTERN = "face_{:05d}.jpg"

Colour = tuple[int, int, int]
Points = list[float]
Draw = ImageDraw.ImageDraw

# Light to deep skin, roughly along the Fitzpatrick/Monk scales; a tone is interpolated between.
_SKIN_RAMP = np.array(
    [
        (255, 226, 204),
        (243, 204, 172),
        (229, 184, 143),
        (206, 150, 108),
        (168, 112, 74),
        (124, 80, 52),
        (84, 56, 40),
    ],
    dtype=np.float64,
)
_HAIR_COLOURS: tuple[Colour, ...] = (
    (22, 18, 16), (45, 32, 24), (75, 50, 32), (112, 74, 44), (140, 64, 36), (184, 98, 48),
    (205, 170, 105), (232, 206, 148), (140, 138, 136), (220, 218, 212), (170, 50, 110),
    (50, 80, 160),
)  # fmt: skip
# Black/brown hair is drawn more often than dyed or white hair.
_HAIR_WEIGHTS = np.array([6, 6, 5, 4, 2, 1.5, 2, 1.5, 1.5, 1, 0.3, 0.3])
_IRIS_COLOURS: tuple[Colour, ...] = (
    (58, 34, 20), (96, 60, 30), (128, 100, 48), (76, 116, 64), (64, 112, 170), (118, 128, 136),
)  # fmt: skip
_HAIR_STYLES = ("bald", "short", "short", "fringe", "long", "long", "bob", "curly", "bun")


@dataclass(frozen=True)
class SynthSummary:
    """What `synthesize_dataset` wrote."""

    out: Path
    counts: dict[str, int]
    size: int
    seed: int
    seconds: float


@dataclass(frozen=True)
class _Head:
    """Head ellipse on the 2x canvas: centre, half-width, half-height; features hang off it."""

    cx: float
    cy: float
    a: float
    b: float

    def at(self, u: float, v: float) -> tuple[float, float]:
        """Canvas point at (u, v) in head units (u right, v down, the ellipse is u^2+v^2=1)."""
        return self.cx + u * self.a, self.cy + v * self.b


def _box(x: float, y: float, rx: float, ry: float) -> Points:
    return [x - rx, y - ry, x + rx, y + ry]


def _flat(xs: np.ndarray, ys: np.ndarray) -> Points:
    return list(np.column_stack([xs, ys]).ravel().tolist())


def _colour(values: np.ndarray) -> Colour:
    clipped = np.clip(values, 0, 255)
    return (int(clipped[0]), int(clipped[1]), int(clipped[2]))


def _mix(c1: Colour | np.ndarray, c2: Colour | np.ndarray, t: float) -> Colour:
    return _colour((1 - t) * np.asarray(c1, float) + t * np.asarray(c2, float))


def _scale(colour: Colour, factor: float) -> Colour:
    return _mix((0, 0, 0), colour, factor)


def _jitter(rng: np.random.Generator, colour: Colour | np.ndarray, amount: float) -> Colour:
    return _colour(np.asarray(colour, float) + rng.normal(0, amount, 3))


def _skin_tone(rng: np.random.Generator) -> Colour:
    position = rng.uniform(0, len(_SKIN_RAMP) - 1)
    low = int(position)
    high = min(low + 1, len(_SKIN_RAMP) - 1)
    tone = _mix(_SKIN_RAMP[low], _SKIN_RAMP[high], position - low)
    return _jitter(rng, tone, 5)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Flat, two-colour gradient, or blurred clutter, as float32 HxWx3: a muted room or wall."""
    base = _mix(rng.integers(0, 256, 3), (128, 128, 128), rng.uniform(0.2, 0.6))
    kind = rng.choice(["flat", "gradient", "clutter"], p=[0.25, 0.35, 0.4])
    if kind == "flat":
        image = Image.new("RGB", (size, size), base)
    elif kind == "gradient":
        corners = np.clip(np.array(base) + rng.normal(0, 40, (2, 2, 3)), 0, 255).astype(np.uint8)
        image = Image.fromarray(corners, "RGB").resize((size, size), Image.Resampling.BILINEAR)
    else:  # drawn small, softened and enlarged: out-of-focus shapes behind the person
        small = max(8, size // 4)
        image = Image.new("RGB", (small, small), base)
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(4, 12))):
            x, y = rng.uniform(0, small, 2)
            w, h = rng.uniform(small * 0.08, small * 0.5, 2)
            colour = _jitter(rng, base, 45)
            if rng.random() < 0.5:
                draw.rectangle([x - w, y - h, x + w, y + h], fill=colour)
            else:
                draw.ellipse(_box(x, y, w, h), fill=colour)
        image = image.filter(ImageFilter.BoxBlur(max(1, small // 24)))
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32)


def _face_outline(rng: np.random.Generator, head: _Head) -> Points:
    """Ellipse on top; below, a superellipse that tapers to the chin (square to pointed jaws)."""
    t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    cos, sin = np.cos(t), np.sin(t)
    squareness = rng.uniform(2.0, 3.4)
    taper = rng.uniform(0.0, 0.3)
    lower = sin > 0
    width = np.where(lower, np.abs(cos) ** (2 / squareness) * (1 - taper * sin**2), np.abs(cos))
    xs = head.cx + head.a * np.sign(cos) * width
    ys = head.cy + head.b * sin
    return _flat(xs, ys)


def _hair_cap(rng: np.random.Generator, head: _Head, style: str) -> Points:
    """Hair over the top of the head: an enlarged arc above, a hairline (maybe a fringe) below."""
    grow = rng.uniform(1.04, 1.12) if style != "curly" else rng.uniform(1.15, 1.3)
    top = np.linspace(np.pi * 1.06, np.pi * 1.94, 40)  # left temple, over the top, right temple
    outer_x = head.cx + head.a * grow * np.cos(top)
    outer_y = head.cy + head.b * grow * np.sin(top)
    s = np.linspace(1, -1, 31)  # hairline from right temple to left temple
    parting = rng.uniform(-0.5, 0.5)
    temple_v = rng.uniform(-0.35, -0.05)
    if style == "fringe":
        crown_v = rng.uniform(-0.45, -0.25)
        jag = np.where(np.arange(s.size) % 2 == 0, 0, rng.uniform(0.03, 0.09))
    else:
        crown_v = rng.uniform(-0.75, -0.5)
        jag = np.zeros_like(s)
    bend = (1 - np.abs(s - parting * (1 - np.abs(s)))) ** rng.uniform(0.6, 1.6)
    line_v = temple_v + (crown_v - temple_v) * np.clip(bend, 0, 1) + jag
    line_x = head.cx + head.a * 0.97 * s
    line_y = head.cy + head.b * line_v
    return _flat(np.concatenate([outer_x, line_x]), np.concatenate([outer_y, line_y]))


def _draw_hair_back(
    rng: np.random.Generator, draw: Draw, head: _Head, style: str, hair: Colour
) -> None:
    """Hair that hangs behind the face: long, bob, curls, bun."""
    if style in ("long", "bob"):
        drop = rng.uniform(1.6, 2.4) if style == "long" else rng.uniform(1.0, 1.25)
        width = rng.uniform(1.15, 1.4)
        x0, y0 = head.at(-width, -1.1)
        x1, y1 = head.at(width, drop)
        draw.rounded_rectangle([x0, y0, x1, y1], radius=head.a * 0.9, fill=hair)
    elif style == "curly":
        for angle in np.linspace(np.pi * 0.9, np.pi * 2.1, int(rng.integers(9, 15))):
            radius = head.a * rng.uniform(0.3, 0.45)
            x, y = head.at(1.05 * math.cos(angle), 0.95 * math.sin(angle))
            draw.ellipse(_box(x, y, radius, radius), fill=_jitter(rng, hair, 6))
    elif style == "bun":
        x, y = head.at(rng.uniform(-0.2, 0.2), -1.15)
        radius = head.a * rng.uniform(0.35, 0.5)
        draw.ellipse(_box(x, y, radius, radius), fill=hair)


def _draw_body(rng: np.random.Generator, draw: Draw, head: _Head, skin: Colour) -> None:
    """Neck in the chin's shadow, then shoulders in clothes of some colour."""
    neck_w = rng.uniform(0.5, 0.7)
    x0, y0 = head.at(-neck_w, 0.4)
    x1, y1 = head.at(neck_w, 1.7)
    draw.polygon([x0, y0, x1, y0, x1, y1, x0, y1], fill=_scale(skin, 0.82))
    clothes = tuple(int(v) for v in rng.integers(20, 235, 3))
    sx, sy = head.at(0, 1.35 + rng.uniform(0, 0.3))
    shoulders = _box(sx, sy + head.a * 1.3, head.a * rng.uniform(2.0, 2.6), head.a * 1.4)
    draw.ellipse(shoulders, fill=clothes)
    if rng.random() < 0.5:  # V neck shows skin under the chin
        depth = rng.uniform(0.4, 0.9)
        draw.polygon(
            [sx - head.a * 0.45, sy, sx + head.a * 0.45, sy, sx, sy + head.a * depth],
            fill=_scale(skin, 0.9),
        )


def _draw_ears(rng: np.random.Generator, draw: Draw, head: _Head, skin: Colour) -> None:
    v = rng.uniform(-0.05, 0.12)
    for side in (-1, 1):
        x, y = head.at(side * 0.97, v)
        draw.ellipse(_box(x, y, head.a * 0.16, head.b * 0.17), fill=_scale(skin, 0.93))


def _clip_to_ellipse(
    xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, rx: float, ry: float
) -> Points:
    """Pull points lying outside an ellipse radially onto it (iris clipped by the eyelids)."""
    reach = np.hypot((xs - cx) / rx, (ys - cy) / ry)
    shrink = np.minimum(1.0, 1.0 / np.maximum(reach, 1e-9))
    return _flat(cx + (xs - cx) * shrink, cy + (ys - cy) * shrink)


def _draw_eyes(
    rng: np.random.Generator, draw: Draw, head: _Head, skin: Colour, light: np.ndarray
) -> tuple[float, float, float]:
    """Sclera, iris, pupil, catch-light and lid line; returns (eye height, spacing, eye width)."""
    v = rng.uniform(-0.18, 0.0)
    spacing = rng.uniform(0.36, 0.5)
    rx = head.a * rng.uniform(0.17, 0.24)
    ry = rx * rng.uniform(0.45, 0.7)
    iris_r = ry * rng.uniform(0.85, 1.1)
    gaze_x, gaze_y = rng.uniform(-0.35, 0.35) * rx, rng.uniform(-0.25, 0.2) * ry
    iris = _jitter(rng, _IRIS_COLOURS[int(rng.integers(len(_IRIS_COLOURS)))], 8)
    lashes = _scale(skin, rng.uniform(0.2, 0.45))
    circle = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    for side in (-1, 1):
        ex, ey = head.at(side * spacing, v)
        draw.ellipse(_box(ex, ey, rx, ry), fill=(238, 236, 228))
        for radius, colour in ((iris_r, iris), (iris_r * rng.uniform(0.38, 0.55), (12, 10, 10))):
            px = ex + gaze_x + radius * np.cos(circle)
            py = ey + gaze_y + radius * np.sin(circle)
            draw.polygon(_clip_to_ellipse(px, py, ex, ey, rx, ry), fill=colour)
        glint = iris_r * 0.22  # catch-light on the lit side
        gx = ex + gaze_x + light[0] * iris_r * 0.45
        gy = ey + gaze_y + (light[1] - 0.6) * iris_r * 0.35
        draw.ellipse(_box(gx, gy, glint, glint), fill=(252, 252, 252))
        lid = [ex - rx * 1.1, ey - ry * 1.2, ex + rx * 1.1, ey + ry * 1.1]
        draw.arc(lid, 195, 345, fill=lashes, width=max(1, int(ry * 0.35)))
        crease = [ex - rx, ey - ry * 1.9, ex + rx, ey + ry * 0.6]
        draw.arc(crease, 215, 325, fill=_scale(skin, 0.8), width=max(1, int(ry * 0.12)))
    return v, spacing, rx / head.a


def _draw_brows(
    rng: np.random.Generator,
    draw: Draw,
    head: _Head,
    eyes: tuple[float, float, float],
    colour: Colour,
) -> None:
    eye_v, spacing, eye_u = eyes
    lift = rng.uniform(0.17, 0.28)
    tilt = rng.uniform(-0.08, 0.1)  # positive: inner ends lower (stern)
    arch = rng.uniform(0.0, 0.08)
    width = max(1, int(head.b * rng.uniform(0.035, 0.08)))
    for side in (-1, 1):
        s = np.linspace(-1, 1, 7)
        us = side * (spacing + s * eye_u * 1.25)
        vs = eye_v - lift - arch * (1 - s**2) - tilt * s  # s = -1 is the inner end
        xs, ys = head.cx + us * head.a, head.cy + vs * head.b
        draw.line(_flat(xs, ys), fill=colour, width=width, joint="curve")


def _draw_nose(rng: np.random.Generator, draw: Draw, head: _Head, skin: Colour) -> None:
    shade = _scale(skin, rng.uniform(0.72, 0.85))
    tip_v = rng.uniform(0.22, 0.38)
    half = rng.uniform(0.1, 0.18)
    tx, ty = head.at(0, tip_v)
    style = int(rng.integers(3))
    if style == 0:  # nostrils only
        for side in (-1, 1):
            x = tx + side * half * head.a * 0.6
            draw.ellipse(_box(x, ty, head.a * 0.045, head.b * 0.025), fill=shade)
    elif style == 1:  # a side line down the bridge and the base
        top = head.at(rng.uniform(-0.06, 0.06), tip_v - rng.uniform(0.2, 0.3))
        width = max(1, int(head.a * 0.035))
        draw.line(
            [*top, tx + half * head.a * 0.3, ty, tx - half * head.a, ty],
            fill=shade,
            width=width,
            joint="curve",
        )
    else:  # a rounded tip with a soft shadow under it
        draw.ellipse(_box(tx, ty + head.b * 0.02, half * head.a, head.b * 0.05), fill=shade)
        draw.ellipse(
            _box(tx, ty - head.b * 0.01, half * head.a * 0.8, head.b * 0.04),
            fill=_scale(skin, rng.uniform(0.92, 1.0)),
        )


def _draw_mouth(rng: np.random.Generator, draw: Draw, head: _Head, skin: Colour) -> None:
    """Upper and lower lips around a centre line whose curvature is the smile."""
    mx, my = head.at(0, rng.uniform(0.52, 0.64))
    half = head.a * rng.uniform(0.22, 0.38)
    smile = head.b * rng.uniform(-0.02, 0.08)
    upper, lower = head.b * rng.uniform(0.025, 0.06), head.b * rng.uniform(0.035, 0.08)
    lips = rng.choice(["natural", "natural", "natural", "lipstick"])
    lip_target: Colour = (190, 35, 55) if lips == "lipstick" else (176, 84, 92)
    lip = _mix(skin, lip_target, rng.uniform(0.35, 0.7) if lips == "natural" else 0.85)
    s = np.linspace(-1, 1, 25)
    xs = mx + half * s
    centre = my + smile * (1 - s**2) - smile * 0.5
    body = (1 - s**2) ** 0.6
    bow = 1 - 0.35 * np.exp(-((s / 0.15) ** 2))
    top = centre - upper * body * bow
    bottom = centre + lower * body
    draw.polygon(
        _flat(np.concatenate([xs, xs[::-1]]), np.concatenate([top, bottom[::-1]])), fill=lip
    )
    if rng.random() < 0.25:  # open: teeth and a dark gap
        gap = lower * rng.uniform(0.4, 0.8)
        inner = _flat(
            np.concatenate([xs[3:-3], xs[3:-3][::-1]]),
            np.concatenate([centre[3:-3], (centre + gap * body)[3:-3][::-1]]),
        )
        draw.polygon(inner, fill=(60, 20, 25))
        teeth = _flat(
            np.concatenate([xs[4:-4], xs[4:-4][::-1]]),
            np.concatenate([centre[4:-4], (centre + gap * 0.45 * body)[4:-4][::-1]]),
        )
        draw.polygon(teeth, fill=(236, 232, 220))
    else:
        draw.line(
            _flat(xs, centre),
            fill=_scale(lip, 0.55),
            width=max(1, int(head.b * 0.012)),
            joint="curve",
        )


def _draw_facial_hair(
    rng: np.random.Generator, draw: Draw, head: _Head, outline: Points, hair: Colour
) -> None:
    """A beard follows the jaw below the cheeks; a moustache sits above the lips."""
    kind = rng.choice(["none", "none", "none", "none", "beard", "moustache"])
    if kind == "beard":
        top_y = head.cy + head.b * rng.uniform(0.3, 0.45)
        pts = np.array(outline).reshape(-1, 2)
        jaw = pts[pts[:, 1] >= top_y]
        jaw = jaw[np.argsort(np.arctan2(jaw[:, 1] - head.cy, jaw[:, 0] - head.cx))]
        draw.polygon(list(jaw.ravel().tolist()), fill=_jitter(rng, hair, 6))
    elif kind == "moustache":
        mx, my = head.at(0, rng.uniform(0.43, 0.49))
        half, thick = head.a * rng.uniform(0.25, 0.35), head.b * rng.uniform(0.03, 0.06)
        draw.polygon(
            [mx - half, my + thick, mx, my - thick, mx + half, my + thick, mx, my + thick * 0.3],
            fill=hair,
        )


def _draw_glasses(
    rng: np.random.Generator, draw: Draw, head: _Head, eyes: tuple[float, float, float]
) -> None:
    eye_v, spacing, eye_u = eyes
    frame = tuple(int(v) for v in rng.integers(0, 200, 3)) if rng.random() < 0.5 else (20, 20, 20)
    sun = rng.random() < 0.2
    rx, ry = head.a * eye_u * rng.uniform(1.35, 1.6), head.b * rng.uniform(0.1, 0.14)
    width = max(1, int(head.a * rng.uniform(0.025, 0.05)))
    radius = ry * rng.uniform(0.3, 1.0)
    # At 32x32 a lens can be a pixel or two across, where Pillow's rounded rectangle inverts
    rx, ry = max(rx, 2.0), max(ry, 2.0)
    radius = min(radius, rx / 2, ry / 2)
    for side in (-1, 1):
        ex, ey = head.at(side * spacing, eye_v)
        draw.rounded_rectangle(
            _box(ex, ey, rx, ry),
            radius=radius,
            fill=(25, 25, 30) if sun else None,
            outline=frame,
            width=width,
        )
        temple_x = head.cx + side * head.a * 0.98
        draw.line([ex + side * rx, ey - ry * 0.5, temple_x, ey - ry * 0.6], fill=frame, width=width)
    left, right = head.at(-spacing, eye_v), head.at(spacing, eye_v)
    draw.line(
        [left[0] + rx, left[1] - ry * 0.3, right[0] - rx, right[1] - ry * 0.3],
        fill=frame,
        width=width,
    )


def _draw_person(
    rng: np.random.Generator, side: int, light: np.ndarray
) -> tuple[Image.Image, Points, _Head]:
    """The person on a transparent 2x canvas, back to front; alpha marks the person.

    Returns the canvas, the face outline and the head ellipse."""
    canvas = Image.new("RGBa", (side, side), (0, 0, 0, 0))  # premultiplied: no conversions
    draw = ImageDraw.Draw(canvas)
    a = side * rng.uniform(0.19, 0.25)
    head = _Head(
        cx=side * rng.uniform(0.44, 0.56),
        cy=side * rng.uniform(0.42, 0.5),
        a=a,
        b=a * rng.uniform(1.2, 1.42),
    )
    skin = _skin_tone(rng)
    hair_index = rng.choice(len(_HAIR_COLOURS), p=_HAIR_WEIGHTS / _HAIR_WEIGHTS.sum())
    hair = _jitter(rng, _HAIR_COLOURS[hair_index], 6)
    style = str(rng.choice(_HAIR_STYLES))
    _draw_hair_back(rng, draw, head, style, hair)
    _draw_body(rng, draw, head, skin)
    if style not in ("long", "bob"):
        _draw_ears(rng, draw, head, skin)
    outline = _face_outline(rng, head)
    draw.polygon(outline, fill=skin)
    if style != "bald":
        draw.polygon(_hair_cap(rng, head, style), fill=hair)
    eyes = _draw_eyes(rng, draw, head, skin, light)
    brow = hair if style != "bald" and rng.random() < 0.8 else _scale(skin, 0.4)
    _draw_brows(rng, draw, head, eyes, _scale(brow, 0.85))
    _draw_nose(rng, draw, head, skin)
    _draw_facial_hair(rng, draw, head, outline, hair)
    _draw_mouth(rng, draw, head, skin)
    if rng.random() < 0.25:
        _draw_glasses(rng, draw, head, eyes)
    return canvas, outline, head


def _roll_and_reduce(side: int, size: int, angle: float) -> tuple[float, ...]:
    """Affine map from output pixels to canvas pixels: a roll about the centre, zoomed in just
    enough that the corners stay on the canvas, and scaled by ~2 (bilinear over 2x = box filter)."""
    cos, sin = math.cos(angle), math.sin(angle)
    step = side / size / (abs(cos) + abs(sin))
    centre_out, centre_in = size / 2, side / 2
    a, b = step * cos, -step * sin
    d, e = step * sin, step * cos
    c = centre_in - a * centre_out - b * centre_out
    f = centre_in - d * centre_out - e * centre_out
    return a, b, c, d, e, f


def _lambert_shading(
    affine: tuple[float, ...], size: int, head: _Head, light: np.ndarray
) -> np.ndarray:
    """Brightness factor of an ellipsoid head lit from `light`, 1.0 where it faces the camera.

    Smooth, so it is computed on a quarter-size grid and enlarged."""
    a, b, c, d, e, f = affine
    low = max(4, size // 4)
    grid = (np.arange(low, dtype=np.float32) + 0.5) * (size / low)
    x_in = a * grid[None, :] + b * grid[:, None] + c
    y_in = d * grid[None, :] + e * grid[:, None] + f
    u = (x_in - head.cx) / (head.a * 1.15)
    v = (y_in - head.cy) / (head.b * 1.1)
    reach = np.maximum(np.hypot(u, v), 1.0)
    u, v = u / reach, v / reach  # outside the ellipsoid, keep the rim's normal
    nz = np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, 1.0))
    lit = np.clip(u * light[0] + v * light[1] + nz * light[2], 0.0, 1.0)
    ambient = 0.55
    factor = (ambient + (1 - ambient) * lit) / (ambient + (1 - ambient) * light[2])
    shading = Image.fromarray(factor.astype(np.float32), "F")
    return np.asarray(shading.resize((size, size), Image.Resampling.BILINEAR))


def _reduce(image: Image.Image, affine: tuple[float, ...], side: int) -> np.ndarray:
    """A canvas layer resampled through `affine` (output pixel -> canvas point, Pillow's
    convention of pixel centres at +0.5) into `side` x `side`, as float32.

    OpenCV's warp is several times faster than Pillow's for the same bilinear result."""
    a, b, c, d, e, f = affine
    # OpenCV puts pixel centres at integers: shift both ends by half a pixel.
    matrix = np.array([[a, b, c + (a + b - 1) / 2], [d, e, f + (d + e - 1) / 2]], dtype=np.float64)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(np.asarray(image), matrix, (side, side), flags=flags)
    return np.asarray(warped, dtype=np.float32).reshape(side, side, -1)


def _render(rng: np.random.Generator, size: int) -> tuple[np.ndarray, Points, tuple[float, ...]]:
    """A noiseless picture as float32 HxWx3 in [0, 255], with the face outline on the 2x canvas
    and the canvas-to-output map (to find the face again)."""
    side = 2 * size
    background = _background(rng, size)
    light = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-0.7, 0.3), rng.uniform(0.45, 1.0)])
    light /= np.linalg.norm(light)
    canvas, outline, head = _draw_person(rng, side, light)
    affine = _roll_and_reduce(side, size, math.radians(rng.uniform(-10, 10)))
    person = _reduce(canvas, affine, size)  # premultiplied by alpha
    shading = _lambert_shading(affine, size, head, light)[..., None]
    background *= 1.0 - person[..., 3:] / 255.0
    rgb = person[..., :3] * shading
    rgb += background
    return rgb, outline, affine


def _face_mask(outline: Points, affine: tuple[float, ...], size: int, side: int) -> np.ndarray:
    """Where the face is in a `side` x `side` version of the output, HxWx1 in [0, 1]."""
    mask = Image.new("L", (2 * size, 2 * size), 0)
    ImageDraw.Draw(mask).polygon(outline, fill=255)
    a, b, c, d, e, f = affine
    k = size / side
    return _reduce(mask, (a * k, b * k, c, d * k, e * k, f), side) / 255.0


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Float pixels rounded and clipped to 8 bits."""
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)


def _finish(rgb: np.ndarray, rng: np.random.Generator, noise: tuple[float, float]) -> Image.Image:
    """Sensor noise, then 8 bits: luminance grain per pixel, colour grain per 2x2 block (as after
    demosaicing). Adds into `rgb`, which the caller hands over."""
    size = rgb.shape[0]
    sigma = np.float32(rng.uniform(*noise))
    half = -(-size // 2)
    chroma = rng.standard_normal((half, half, 3), dtype=np.float32) * (sigma / 2)
    blocks = cv2.resize(chroma, (2 * half, 2 * half), interpolation=cv2.INTER_NEAREST_EXACT)
    rgb += blocks[:size, :size]
    rgb += rng.standard_normal((size, size, 1), dtype=np.float32) * sigma
    return Image.fromarray(_to_uint8(rgb), "RGB")


def draw_face(rng: np.random.Generator, size: int) -> Image.Image:
    """One synthetic real-class face, `size` x `size` RGB, before JPEG compression."""
    _check_size(size)
    rgb, _, _ = _render(rng, size)
    return _finish(rgb, rng, noise=(1.0, 5.0))


_SMOOTH_3X3 = ImageFilter.Kernel((3, 3), [1, 2, 1, 2, 4, 2, 1, 2, 1], scale=16)


def _stride2_upsample(rng: np.random.Generator, image: Image.Image) -> np.ndarray:
    """One stride-2 upsampling, like a generator layer: nearest copies, or copies smoothed by a
    transposed convolution's overlapping kernel; either way the kernel's uneven overlap leaves a
    periodic 2x2 gain (the checkerboard). Returns float32 HxWx3."""
    image = image.resize((image.width * 2, image.height * 2), Image.Resampling.NEAREST)
    if rng.random() < 0.6:
        image = image.filter(_SMOOTH_3X3)
    pattern = rng.normal(0, 1, (2, 2, 1)) + rng.normal(0, 0.3, (2, 2, 3))
    pattern -= pattern.mean(axis=(0, 1), keepdims=True)
    pattern *= rng.uniform(0.03, 0.06) / max(float(np.abs(pattern).max()), 1e-9)
    gain = np.tile(1 + pattern.astype(np.float32), (image.height // 2, image.width // 2, 1))
    return np.asarray(image, dtype=np.float32) * gain


def _region_inconsistency(rng: np.random.Generator, rgb: np.ndarray, face: np.ndarray) -> None:
    """On one side of a random line through the face, a colour shift and blotchy texture."""
    side = rgb.shape[0]
    angle = rng.uniform(0, 2 * np.pi)
    grid = (np.arange(side, dtype=np.float32) + 0.5) / side - 0.5
    across = np.cos(angle) * grid[None, :] + np.sin(angle) * grid[:, None] + rng.uniform(-0.1, 0.1)
    region = face * np.clip(across * 12 + 0.5, 0, 1)[..., None]
    shift = rng.choice([-1, 1], 3) * rng.uniform(3, 8, 3)
    blotches = Image.fromarray(rng.normal(0, 6, (6, 6)).astype(np.float32), "F")
    texture = np.asarray(blotches.resize((side, side), Image.Resampling.BICUBIC))[..., None]
    rgb += (region * (shift + texture)).astype(np.float32)


def draw_fake_face(rng: np.random.Generator, size: int) -> Image.Image:
    """One stand-in fake: a face from the same generator with generator-like traces added.

    The coarse picture (1/4 side) gets the region inconsistency, as a generator's coarse layers
    set colour; two stride-2 upsamplings bring it back with their checkerboard."""
    _check_size(size)
    rgb, outline, affine = _render(rng, size)
    low = -(-size // 4)
    small = Image.fromarray(_to_uint8(rgb), "RGB").resize((low, low), Image.Resampling.BOX)
    # A generator gets back only part of the detail its coarse layers lost.
    smooth = small.resize((size, size), Image.Resampling.BILINEAR)
    detail = rgb - np.asarray(smooth, dtype=np.float32)
    coarse = np.asarray(small, dtype=np.float32)
    _region_inconsistency(rng, coarse, _face_mask(outline, affine, size, low))
    half = _stride2_upsample(rng, Image.fromarray(_to_uint8(coarse), "RGB"))
    upsampled = _stride2_upsample(rng, Image.fromarray(_to_uint8(half), "RGB"))
    fake = upsampled[:size, :size] + rng.uniform(0.3, 0.7) * detail
    return _finish(fake, rng, noise=(0.5, 3.0))


def _check_size(size: int) -> None:
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ConfigError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {size}")


def image_rng(seed: int, label: int, index: int) -> np.random.Generator:
    """The generator for one image: depends on (seed, class, index) only, not on n."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(label, index)))


def _jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _check_folder(folder: Path, names: set[str]) -> None:
    """Refuse to mix with other images: a smaller n after a larger one would leave extras."""
    if folder.is_dir():
        foreign = sorted(
            p.name for p in folder.iterdir() if is_image_name(p) and p.name not in names
        )
        if foreign:
            raise ConfigError(
                f"{folder} already holds {len(foreign)} other image(s) (e.g. {foreign[0]}); "
                "use an empty folder"
            )


def synthesize_dataset(
    out: Path,
    n: int,
    size: int = 128,
    seed: int = 0,
    fakes: bool = False,
    jpeg_quality: tuple[int, int] = (75, 95),
    progress: bool = False,
) -> SynthSummary:
    """Write n synthetic faces to out/real/ (and n stand-in fakes to out/fake/ if `fakes`).

    Re-running with the same arguments rewrites identical files; a folder holding other files
    is refused rather than mixed.
    """
    if n < 1:
        raise ConfigError(f"n must be at least 1, got {n}")
    _check_size(size)
    low_q, high_q = jpeg_quality
    if not 1 <= low_q <= high_q <= 100:
        raise ConfigError(
            f"jpeg_quality must be (low, high) with 1 <= low <= high <= 100, got {jpeg_quality}"
        )
    out = Path(out)
    classes = CLASS_NAMES if fakes else CLASS_NAMES[:1]
    names = {FILE_PATTERN.format(i) for i in range(n)}
    for name in classes:
        _check_folder(out / name, names)
    for name in classes:
        (out / name).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    jobs = [(label, i) for label in range(len(classes)) for i in range(n)]
    for label, i in tqdm(jobs, desc="synth", unit="img", disable=not progress):
        rng = image_rng(seed, label, i)
        image = draw_fake_face(rng, size) if label else draw_face(rng, size)
        data = _jpeg_bytes(image, int(rng.integers(low_q, high_q + 1)))
        target = out / CLASS_NAMES[label] / FILE_PATTERN.format(i)
        partial = target.with_suffix(".part")  # an interrupted run leaves no truncated JPEG
        partial.write_bytes(data)
        os.replace(partial, target)
    return SynthSummary(
        out=out,
        counts={name: n for name in classes},
        size=size,
        seed=seed,
        seconds=time.perf_counter() - started,
    )
