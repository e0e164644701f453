"""The light of a galaxy, band by band: the components its true parameters describe.

Sersic bulges and ellipticals, exponential disks seen at an inclination, bars, logarithmic
spiral arms (grand-design, many-armed, flocculent), rings, gravitational arcs, star-forming
clumps, tidal tails, companions and dust lanes. Each component has its own colour (display
R, G, B ~ SDSS i, r, g), so bulges come out red and arms blue. Everything is evaluated on a
grid of coordinates centred on the galaxy; render.py blurs, samples and stretches the result.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from galaxylab.simulate.morphology import GalaxyParams


def rotate(x: np.ndarray, y: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates rotated by ``degrees``: u along the major axis, v along the minor."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return x * c + y * s, -x * s + y * c


def elliptical_radius(u: np.ndarray, v: np.ndarray, q: float, c: float = 2.0) -> np.ndarray:
    """Generalised-ellipse radius (axis ratio q; c > 2 boxy), softened by half a pixel."""
    if c == 2.0:
        return np.sqrt(u * u + (v / q) ** 2 + 0.25)
    return (np.abs(u) ** c + np.abs(v / q) ** c + 0.25 ** (c / 2)) ** (1.0 / c)


def sersic(r: np.ndarray, n: float, r_eff: float) -> np.ndarray:
    """Sersic profile of index n, 1 at the effective radius (half the light inside it)."""
    b = 2.0 * n - 1.0 / 3.0 + 0.009876 / n
    return np.exp(-b * ((r / r_eff) ** (1.0 / n) - 1.0))


def _unit(profile: np.ndarray) -> np.ndarray:
    total = float(profile.sum())
    return profile / total if total > 0 else profile


def _patchy(rng: np.random.Generator, shape: tuple[int, int], cell: int, contrast: float
            ) -> np.ndarray:
    """A smooth log-normal random field (mean ~1): clumps of star formation, broken arms."""
    coarse = rng.standard_normal((max(shape[0] // cell, 2), max(shape[1] // cell, 2)))
    field = np.asarray(Image.fromarray(coarse.astype(np.float32)).resize(
        (shape[1], shape[0]), Image.Resampling.BICUBIC))
    return np.exp(contrast * field - 0.5 * contrast**2)


def _spiral(R: np.ndarray, theta: np.ndarray, m: int, pitch: float, phase: float,
            sharp: float) -> np.ndarray:
    wind = np.log(np.maximum(R, 0.5)) / np.tan(np.radians(pitch))
    return ((1.0 + np.cos(m * (theta - wind - phase))) * 0.5) ** sharp


class _Canvas:
    """Linear light on a (3, G, G) grid whose cells are ``step`` full-resolution pixels."""

    def __init__(self, x: np.ndarray, y: np.ndarray, step: int) -> None:
        self.step = step
        self.bands = np.zeros((3,) + x.shape, dtype=np.float32)

    def add(self, profile: np.ndarray, flux: float, colour: tuple[float, float, float]) -> None:
        """Add a profile scaled to ``flux`` (summed over bands' mean) in the given colour."""
        if flux <= 0:
            return
        per_pixel = _unit(profile) * (flux / self.step**2)
        col = np.asarray(colour, dtype=np.float32)
        col = col * (3.0 / col.sum())
        self.bands += per_pixel.astype(np.float32)[None] * col[:, None, None]


def _disk_coords(p: GalaxyParams, u: np.ndarray, v: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    cos_i = max(np.cos(np.radians(p.inclination)), 0.06)
    X, Y = u, v / cos_i
    return X, Y, np.sqrt(X * X + Y * Y), np.arctan2(Y, X)


def _draw_disk(c: _Canvas, p: GalaxyParams, u: np.ndarray, v: np.ndarray,
               rng: np.random.Generator) -> None:
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
    redden = 0.7 * np.sin(np.radians(p.inclination)) ** 6
    young = tuple((1 - redden) * np.asarray(p.colour_young) + redden * np.asarray(p.colour_disk))
    c.add(np.exp(-r_ell / h), base * 0.8, p.colour_disk)
    c.add(np.exp(-r_ell / (1.25 * h)), base * 0.2, young)
    if p.bar:
        xb, yb = rotate(X, Y, p.bar_angle)
        rb = elliptical_radius(xb / p.bar_length, yb / p.bar_length, 0.28, 3.0)
        c.add(1.0 / (1.0 + np.exp(np.minimum(8.0 * (rb - 0.85), 50.0))), bar_flux, p.colour_disk)
    if p.n_arms > 0:
        inner = max(p.bar_length if p.bar else 0.0, 2.0 * p.r_eff, 0.4 * h)
        envelope = np.exp(-R / (1.1 * h)) * (1.0 - np.exp(-((R / inner) ** 2)))
        phase = np.radians(p.bar_angle) if p.bar else rng.uniform(0, 2 * np.pi)
        if p.bar:
            phase -= np.log(inner) / np.tan(np.radians(p.pitch_angle))
        if p.arm_pattern == "flocculent":
            cell = max(shape[0] // 10, 3)
            theta = theta + 0.8 * np.log(_patchy(rng, shape, cell, 1.0))
            arms = _spiral(R, theta, p.n_arms, p.pitch_angle, phase, 2.0)
            arms *= _patchy(rng, shape, cell, 0.7)
        else:
            sharp = 2.0 if p.n_arms <= 2 else 3.0
            arms = _spiral(R, theta, p.n_arms, p.pitch_angle, phase, sharp)
            arms *= _patchy(rng, shape, 5, 0.6)
        c.add(envelope * arms, arm_flux, young)
    if p.ring:
        width = 0.13 * p.ring_radius + 0.8
        ring = np.exp(-0.5 * ((R - p.ring_radius) / width) ** 2) * _patchy(rng, shape, 5, 0.5)
        c.add(ring, ring_flux, young)


def _draw_bulge(c: _Canvas, p: GalaxyParams, u: np.ndarray, v: np.ndarray,
                flux: float) -> None:
    q = p.bulge_q
    if p.disk_scale > 0:  # a bulge in an inclined disk looks rounder than the disk
        q = min(1.0, max(q, p.axis_ratio))
    r = elliptical_radius(u, v, q, p.boxiness)
    c.add(sersic(r, p.sersic_n, p.r_eff), flux, p.colour_bulge)


def _draw_tail(c: _Canvas, x: np.ndarray, y: np.ndarray, scale: float, flux: float,
               angle: float, colour: tuple[float, float, float]) -> None:
    u, v = rotate(x, y, angle)
    R, theta = np.sqrt(u * u + v * v), np.arctan2(v, u)
    envelope = np.exp(-R / (2.5 * scale)) * (1.0 - np.exp(-((R / (1.5 * scale)) ** 2)))
    arm = _spiral(R / scale + 1.0, theta, 1, 28.0, 0.0, 5.0) * np.exp(-0.5 * (theta / 1.6) ** 2)
    c.add(envelope * arm, flux, colour)


def _draw_irregular(c: _Canvas, p: GalaxyParams, u: np.ndarray, v: np.ndarray,
                    rng: np.random.Generator) -> None:
    h = p.disk_scale
    lump = _patchy(rng, u.shape, 6, 0.8)
    c.add(np.exp(-elliptical_radius(u, v, p.axis_ratio) / h) * lump, p.flux * 0.55, p.colour_disk)
    for _ in range(p.extra.get("clumps", 4)):
        cx, cy = rng.normal(0.0, 0.9 * h, 2)
        s = h * rng.uniform(0.12, 0.35)
        blob = np.exp(-0.5 * (((u - cx) ** 2 + (v - cy) ** 2) / s**2))
        c.add(blob, p.flux * 0.45 / p.extra.get("clumps", 4) * rng.uniform(0.5, 1.5),
              p.colour_young)


def galaxy_light(p: GalaxyParams, x: np.ndarray, y: np.ndarray, step: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Linear (3, G, G) light of the galaxy on grid coordinates ``x, y`` (px from its centre)."""
    c = _Canvas(x, y, step)
    u, v = rotate(x, y, p.position_angle)
    if p.disturbed or p.merger:  # lopsided outer isophotes: shift by a radius-dependent amount
        r = np.sqrt(u * u + v * v)
        shift = 0.7 * p.disturbance * r * r / (r + 1.5 * p.size)
        ang = rng.uniform(0, 2 * np.pi)
        u, v = u - shift * np.cos(ang), v - shift * np.sin(ang)
    if p.irregular:
        _draw_irregular(c, p, u, v, rng)
    else:
        if p.disk_scale > 0:
            _draw_disk(c, p, u, v, rng)
        _draw_bulge(c, p, u, v, p.flux * p.bulge_fraction)
    if p.disturbed or p.merger:
        for side in (0.0, 180.0):
            _draw_tail(c, x, y, p.size, p.flux * 0.14 * p.disturbance,
                       p.position_angle + side + rng.uniform(-40, 40), p.colour_disk)
    if p.merger:
        xc, yc = x - p.companion_dx, y - p.companion_dy
        uc, vc = rotate(xc, yc, rng.uniform(0, 180))
        prof = sersic(elliptical_radius(uc, vc, rng.uniform(0.5, 1.0)), rng.uniform(1.0, 4.0),
                       p.companion_r_eff)
        colour = p.colour_bulge if rng.random() < 0.6 else p.colour_disk
        c.add(prof, p.flux * p.companion_flux_ratio, colour)
        _draw_tail(c, xc, yc, p.companion_r_eff * 1.5, p.flux * 0.06 * p.companion_flux_ratio,
                   rng.uniform(0, 360), p.colour_disk)
    if p.lens:
        r = np.sqrt(x * x + y * y)
        ang = np.angle(np.exp(1j * (np.arctan2(y, x) - np.radians(p.extra["arc_angle"]))))
        half = np.radians(p.extra["arc_span"]) / 2
        arc = np.exp(-0.5 * ((r - p.extra["arc_radius"]) / 1.3) ** 2) * np.exp(
            -((ang / half) ** 4))
        c.add(arc, p.flux * 0.07, (0.55, 0.7, 1.0))
    if p.dust_lane:
        _apply_dust(c, p, u, v)
    return c.bands


def _apply_dust(c: _Canvas, p: GalaxyParams, u: np.ndarray, v: np.ndarray) -> None:
    scale = p.disk_scale if p.disk_scale > 0 else p.r_eff
    offset = 0.35 * scale * np.cos(np.radians(p.inclination)) if p.disk_scale > 0 else 0.0
    width = max(1.5, 0.4 * scale * max(p.axis_ratio, 0.12))
    lane = np.exp(-0.5 * ((v - offset) / width) ** 2) * np.exp(-np.abs(u) / (2.5 * scale))
    tau = np.asarray([0.65, 0.85, 1.0], dtype=np.float32) * p.dust_tau
    c.bands *= np.exp(-lane.astype(np.float32)[None] * tau[:, None, None])
