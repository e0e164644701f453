"""The light of a galaxy, band by band: the components its true parameters describe.

Sersic bulges and ellipticals, exponential disks seen at an inclination, bars, logarithmic
spiral arms (grand-design, many-armed, flocculent), rings, gravitational arcs, star-forming
clumps, tidal tails, companions and dust lanes. Each component has its own colour (display
R, G, B ~ SDSS i, r, g), so bulges come out red and arms blue. Everything is evaluated in
float32 on a grid of coordinates centred on the galaxy (scalars stay Python floats so nothing
is promoted to float64); render.py blurs, samples and stretches the result.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from galaxylab.simulate.morphology import GalaxyParams

Colour = tuple[float, float, float]


def rotate(x: np.ndarray, y: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates rotated by ``degrees``: u along the major axis, v along the minor."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return x * c + y * s, y * c - x * s


def elliptical_radius(u: np.ndarray, v: np.ndarray, q: float, c: float = 2.0) -> np.ndarray:
    """Generalised-ellipse radius (axis ratio q; c > 2 boxy), softened by half a pixel."""
    if c == 2.0:
        return np.sqrt(radius_squared(u, v, q, 0.25))
    r = np.abs(u) ** c
    r += np.abs(v * (1.0 / q)) ** c
    r += 0.25 ** (c / 2)
    return r ** (1.0 / c)


def radius_squared(u: np.ndarray, v: np.ndarray, q: float, soften: float) -> np.ndarray:
    """u² + (v/q)² + ``soften``: the squared elliptical radius, in three passes."""
    r2 = v * (1.0 / q)
    r2 *= r2
    r2 += u * u
    r2 += soften
    return r2


def sersic(r: np.ndarray, n: float, r_eff: float) -> np.ndarray:
    """Sersic profile of index n, 1 at the effective radius (half the light inside it)."""
    return _sersic_from_power(r * (1.0 / r_eff), 1.0 / n, n)


def sersic_squared(r2: np.ndarray, n: float, r_eff: float) -> np.ndarray:
    """The Sersic profile of a squared radius: one power instead of a root and a power."""
    return _sersic_from_power(r2 * (1.0 / r_eff**2), 0.5 / n, n)


def _sersic_from_power(scaled: np.ndarray, power: float, n: float) -> np.ndarray:
    """exp(-b (scaled ** power - 1)), computed in place on one temporary."""
    b = 2.0 * n - 1.0 / 3.0 + 0.009876 / n
    t = scaled**power
    t *= -b
    t += b
    return np.exp(t, out=t)


def _patchy(
    rng: np.random.Generator, shape: tuple[int, int], cell: int, contrast: float
) -> np.ndarray:
    """A smooth log-normal random field (mean ~1): clumps of star formation, broken arms."""
    coarse = rng.standard_normal((max(shape[0] // cell, 2), max(shape[1] // cell, 2)))
    field = np.asarray(
        Image.fromarray(coarse.astype(np.float32)).resize(
            (shape[1], shape[0]), Image.Resampling.BICUBIC
        )
    )
    return np.exp(contrast * field - 0.5 * contrast**2)


def _spiral(
    R: np.ndarray, theta: np.ndarray, m: int, pitch: float, phase: float, sharp: float
) -> np.ndarray:
    """Logarithmic spiral arms: ((1 + cos(m (theta - ln R / tan pitch - phase))) / 2) ** sharp."""
    wind = np.log(np.maximum(R, 0.5))
    wind *= 1.0 / math.tan(math.radians(pitch))
    wind += phase
    arms = theta - wind
    arms *= m
    np.cos(arms, out=arms)
    arms += 1.0
    arms *= 0.5
    return arms**sharp


class _Canvas:
    """Linear light on a grid whose cells are ``step`` full-resolution pixels.

    Profiles are summed per colour in a single band and spread over R, G, B once, by
    :meth:`bands`: a galaxy has only a few colours, so most of the work is on one band.
    """

    def __init__(self, shape: tuple[int, int], step: int) -> None:
        self.shape = shape
        self.step = step
        self._by_colour: dict[Colour, np.ndarray] = {}

    def add(self, profile: np.ndarray, flux: float, colour: Colour) -> None:
        """Add a profile scaled to ``flux`` (summed over bands' mean) in the given colour."""
        if flux <= 0:
            return
        total = float(profile.sum())
        if total <= 0:
            return
        light = np.multiply(profile, flux / (total * self.step**2), dtype=np.float32)
        key = (float(colour[0]), float(colour[1]), float(colour[2]))
        if key in self._by_colour:
            self._by_colour[key] += light
        else:
            self._by_colour[key] = light

    def bands(self) -> np.ndarray:
        """The (3, G, G) light: each colour's band times its colour (bands' mean 1)."""
        out = np.zeros((3,) + self.shape, dtype=np.float32)
        for colour, light in self._by_colour.items():
            col = np.asarray(colour, dtype=np.float32)
            col *= 3.0 / col.sum()
            out += light[None] * col[:, None, None]
        return out


def _disk_coords(
    p: GalaxyParams, u: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    cos_i = max(math.cos(math.radians(p.inclination)), 0.06)
    X, Y = u, v * (1.0 / cos_i)
    return X, Y, np.sqrt(X * X + Y * Y), np.arctan2(Y, X)


def _draw_disk(
    c: _Canvas, p: GalaxyParams, u: np.ndarray, v: np.ndarray, rng: np.random.Generator
) -> None:
    h = p.disk_scale
    X, Y, R, theta = _disk_coords(p, u, v)
    disk_flux = p.flux * (1.0 - p.bulge_fraction)
    r_ell = elliptical_radius(u, v, max(p.axis_ratio, 0.05))
    shape = u.shape
    arm_flux = disk_flux * p.arm_strength
    bar_flux = disk_flux * p.bar_strength
    ring_flux = disk_flux * p.ring_strength
    base = disk_flux - arm_flux - bar_flux - ring_flux
    # seen through the whole disk, young blue light is reddened by dust: edge-on disks look warm
    redden = 0.7 * math.sin(math.radians(p.inclination)) ** 6
    young = tuple((1 - redden) * np.asarray(p.colour_young) + redden * np.asarray(p.colour_disk))
    c.add(np.exp(r_ell * (-1.0 / h)), base * 0.8, p.colour_disk)
    c.add(np.exp(r_ell * (-1.0 / (1.25 * h))), base * 0.2, young)
    if p.bar:
        xb, yb = rotate(X, Y, p.bar_angle)
        rb = elliptical_radius(xb * (1.0 / p.bar_length), yb * (1.0 / p.bar_length), 0.28, 3.0)
        c.add(1.0 / (1.0 + np.exp(np.minimum(8.0 * (rb - 0.85), 50.0))), bar_flux, p.colour_disk)
    if p.n_arms > 0:
        inner = max(p.bar_length if p.bar else 0.0, 2.0 * p.r_eff, 0.4 * h)
        envelope = np.exp(R * (-1.0 / (1.1 * h))) * (1.0 - np.exp(-((R * (1.0 / inner)) ** 2)))
        phase = math.radians(p.bar_angle) if p.bar else rng.uniform(0, 2 * np.pi)
        if p.bar:
            phase -= math.log(inner) / math.tan(math.radians(p.pitch_angle))
        if p.arm_pattern == "flocculent":
            cell = max(shape[0] // 10, 3)
            theta = theta + 0.8 * np.log(_patchy(rng, shape, cell, 1.0))
            arms = _spiral(R, theta, p.n_arms, p.pitch_angle, phase, 2.0)
            arms *= _patchy(rng, shape, cell, 0.7)
        else:
            sharp = 2.0 if p.n_arms <= 2 else 3.0
            arms = _spiral(R, theta, p.n_arms, p.pitch_angle, phase, sharp)
            arms *= _patchy(rng, shape, 5, 0.6)
        arms *= envelope
        c.add(arms, arm_flux, young)
    if p.ring:
        width = 0.13 * p.ring_radius + 0.8
        ring = np.exp(-0.5 * ((R - p.ring_radius) * (1.0 / width)) ** 2)
        ring *= _patchy(rng, shape, 5, 0.5)
        c.add(ring, ring_flux, young)


def _draw_bulge(c: _Canvas, p: GalaxyParams, u: np.ndarray, v: np.ndarray, flux: float) -> None:
    q = p.bulge_q
    if p.disk_scale > 0:  # a bulge in an inclined disk looks rounder than the disk
        q = min(1.0, max(q, p.axis_ratio))
    if p.boxiness == 2.0:
        profile = sersic_squared(radius_squared(u, v, q, 0.25), p.sersic_n, p.r_eff)
    else:
        profile = sersic(elliptical_radius(u, v, q, p.boxiness), p.sersic_n, p.r_eff)
    c.add(profile, flux, p.colour_bulge)


def _draw_tail(
    c: _Canvas,
    x: np.ndarray,
    y: np.ndarray,
    scale: float,
    flux: float,
    angle: float,
    colour: Colour,
) -> None:
    u, v = rotate(x, y, angle)
    R, theta = np.sqrt(u * u + v * v), np.arctan2(v, u)
    envelope = np.exp(R * (-1.0 / (2.5 * scale))) * (
        1.0 - np.exp(-((R * (1.0 / (1.5 * scale))) ** 2))
    )
    arm = _spiral(R * (1.0 / scale) + 1.0, theta, 1, 28.0, 0.0, 5.0)
    arm *= np.exp(-0.5 * (theta * (1.0 / 1.6)) ** 2)
    arm *= envelope
    c.add(arm, flux, colour)


def _draw_irregular(
    c: _Canvas, p: GalaxyParams, u: np.ndarray, v: np.ndarray, rng: np.random.Generator
) -> None:
    h = p.disk_scale
    lump = _patchy(rng, u.shape, 6, 0.8)
    lump *= np.exp(elliptical_radius(u, v, p.axis_ratio) * (-1.0 / h))
    c.add(lump, p.flux * 0.55, p.colour_disk)
    for _ in range(p.extra.get("clumps", 4)):
        cx, cy = (float(a) for a in rng.normal(0.0, 0.9 * h, 2))
        s = h * rng.uniform(0.12, 0.35)
        blob = np.exp(radius_squared(u - cx, v - cy, 1.0, 0.0) * (-0.5 / s**2))
        c.add(
            blob, p.flux * 0.45 / p.extra.get("clumps", 4) * rng.uniform(0.5, 1.5), p.colour_young
        )


def galaxy_light(
    p: GalaxyParams, x: np.ndarray, y: np.ndarray, step: int, rng: np.random.Generator
) -> np.ndarray:
    """Linear (3, G, G) light of the galaxy on grid coordinates ``x, y`` (px from its centre)."""
    c = _Canvas(np.broadcast_shapes(x.shape, y.shape), step)
    u, v = rotate(x, y, p.position_angle)
    if p.disturbed or p.merger:  # lopsided outer isophotes: shift by a radius-dependent amount
        r = np.sqrt(u * u + v * v)
        shift = (0.7 * p.disturbance) * r * r / (r + 1.5 * p.size)
        ang = rng.uniform(0, 2 * np.pi)
        u, v = u - shift * math.cos(ang), v - shift * math.sin(ang)
    if p.irregular:
        _draw_irregular(c, p, u, v, rng)
    else:
        if p.disk_scale > 0:
            _draw_disk(c, p, u, v, rng)
        _draw_bulge(c, p, u, v, p.flux * p.bulge_fraction)
    if p.disturbed or p.merger:
        for side in (0.0, 180.0):
            _draw_tail(
                c,
                x,
                y,
                p.size,
                p.flux * 0.14 * p.disturbance,
                p.position_angle + side + rng.uniform(-40, 40),
                p.colour_disk,
            )
    if p.merger:
        _draw_companion(c, p, x, y, rng)
    if p.lens:
        _draw_arc(c, p, x, y)
    bands = c.bands()
    if p.dust_lane:
        _apply_dust(bands, p, u, v)
    return bands


def _draw_companion(
    c: _Canvas, p: GalaxyParams, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> None:
    xc, yc = x - p.companion_dx, y - p.companion_dy
    uc, vc = rotate(xc, yc, rng.uniform(0, 180))
    prof = sersic(
        elliptical_radius(uc, vc, rng.uniform(0.5, 1.0)), rng.uniform(1.0, 4.0), p.companion_r_eff
    )
    colour = p.colour_bulge if rng.random() < 0.6 else p.colour_disk
    c.add(prof, p.flux * p.companion_flux_ratio, colour)
    _draw_tail(
        c,
        xc,
        yc,
        p.companion_r_eff * 1.5,
        p.flux * 0.06 * p.companion_flux_ratio,
        rng.uniform(0, 360),
        p.colour_disk,
    )


def _draw_arc(c: _Canvas, p: GalaxyParams, x: np.ndarray, y: np.ndarray) -> None:
    """A gravitational arc: a thin ring segment beside the galaxy."""
    r = np.sqrt(x * x + y * y)
    ang = np.arctan2(y, x) + (math.pi - math.radians(p.extra["arc_angle"]))
    ang = np.remainder(ang, 2 * math.pi) - math.pi  # angle from the arc's middle, in [-pi, pi)
    half = math.radians(p.extra["arc_span"]) / 2
    arc = np.exp(-0.5 * ((r - p.extra["arc_radius"]) * (1.0 / 1.3)) ** 2)
    arc *= np.exp(-((ang * (1.0 / half)) ** 4))
    c.add(arc, p.flux * 0.07, (0.55, 0.7, 1.0))


def _apply_dust(bands: np.ndarray, p: GalaxyParams, u: np.ndarray, v: np.ndarray) -> None:
    scale = p.disk_scale if p.disk_scale > 0 else p.r_eff
    offset = 0.35 * scale * math.cos(math.radians(p.inclination)) if p.disk_scale > 0 else 0.0
    width = max(1.5, 0.4 * scale * max(p.axis_ratio, 0.12))
    lane = np.exp(-0.5 * ((v - offset) * (1.0 / width)) ** 2)
    lane *= np.exp(np.abs(u) * (-1.0 / (2.5 * scale)))
    tau = np.asarray([0.65, 0.85, 1.0], dtype=np.float32) * p.dust_tau
    bands *= np.exp(-lane.astype(np.float32)[None] * tau[:, None, None])
