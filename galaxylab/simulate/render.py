"""Render a galaxy's true parameters as an SDSS-like gri colour composite (424x424 RGB).

The galaxy's light (light.py) is blurred by a Gaussian PSF and placed on a sky with
foreground stars, small background galaxies and, for artifacts, bright stars or satellite
trails. Flux is linear per pixel (sky noise sigma = SKY_NOISE); sky noise comes from a bank of
pre-drawn noise fields (one per universe seed); photon noise grows with the signal; a Lupton
asinh stretch maps flux to 8-bit colour. For speed the galaxy is computed only in a central
window, at half resolution when the window is large, and the stretch is applied only where
something was added: the rest of the frame is the pre-stretched sky.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from galaxylab.simulate.light import elliptical_radius, galaxy_light, rotate, sersic
from galaxylab.simulate.morphology import GalaxyParams

IMAGE_SIZE = 424
#: Sky level above zero per band, in flux units (the stretch clips below zero, as SDSS JPEGs
#: do); a little less in g (blue) gives the faintly warm sky of the real images.
SKY_PEDESTAL = np.array([0.45, 0.45, 0.22], dtype=np.float32)[:, None, None]
#: Sky noise in flux units, and its correlation length in pixels.
SKY_NOISE = 0.7
NOISE_CORRELATION = 1.2
#: Photon-noise gain: variance added per unit of signal.
INVERSE_GAIN = 0.3
#: Asinh softening and the flux that maps to full scale (flux units).
STRETCH_SOFTENING = 4.0
STRETCH_MAX = 3000.0
_BANK_SIZE = 768
_NORM = float(np.arcsinh(STRETCH_MAX / STRETCH_SOFTENING))


def lupton_stretch(linear: np.ndarray) -> np.ndarray:
    """Lupton et al. (2004) asinh stretch of (3, H, W) linear flux to (H, W, 3) uint8.

    The stretch acts on the mean of the bands and scales all three alike, so colours survive
    in bright cores (saturated pixels keep their hue, as in SDSS composites).
    """
    r, g, b = linear[0], linear[1], linear[2]
    intensity = np.maximum((r + g + b) * (1.0 / 3.0), 1e-3)
    scale = np.arcsinh(intensity * (1.0 / STRETCH_SOFTENING)) / (_NORM * intensity)
    peak = np.maximum(np.maximum(r, g), b) * scale
    scale *= 255.0 / np.maximum(peak, 1.0)
    out = np.empty(r.shape + (3,), dtype=np.uint8)
    for k in range(3):
        band = np.maximum(linear[k], 0.0)
        band *= scale
        band += 0.5
        out[..., k] = band
    return out


class SkyBank:
    """Pre-drawn, slightly correlated sky noise (sigma SKY_NOISE) and its stretched image.

    Each galaxy takes a random crop and one of eight rotations/flips, so a universe pays for
    drawing sky noise once per process instead of once per image.
    """

    def __init__(self, seed: int = 0, size: int = _BANK_SIZE) -> None:
        rng = np.random.default_rng([seed, 1])
        noise = rng.standard_normal((3, size, size), dtype=np.float32)
        noise = gaussian_filter(noise, sigma=(0, NOISE_CORRELATION, NOISE_CORRELATION),
                                mode="wrap")
        noise *= SKY_NOISE / noise.std(axis=(1, 2), keepdims=True)
        self.noise = noise.astype(np.float32)
        image = lupton_stretch(self.noise + SKY_PEDESTAL)
        # the eight orientations, stored contiguously so a crop is a fast copy
        self.images = [np.ascontiguousarray(np.rot90(image[:, ::-1] if k >= 4 else image, k % 4))
                       for k in range(8)]
        self.size = size

    def crop(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A random 424x424 (noise, stretched image) pair; the image is a writable copy."""
        y0, x0 = rng.integers(0, self.size - IMAGE_SIZE + 1, size=2)
        k = int(rng.integers(0, 8))
        noise = self.noise[..., ::-1] if k >= 4 else self.noise
        noise = np.rot90(noise, k % 4, axes=(1, 2))
        sl = (slice(y0, y0 + IMAGE_SIZE), slice(x0, x0 + IMAGE_SIZE))
        return noise[(slice(None),) + sl], self.images[k][sl].copy()


_DEFAULT_SKY: dict[int, SkyBank] = {}


def sky_bank(seed: int) -> SkyBank:
    """The sky bank of a universe seed, built once per process."""
    if seed not in _DEFAULT_SKY:
        _DEFAULT_SKY.clear()
        _DEFAULT_SKY[seed] = SkyBank(seed)
    return _DEFAULT_SKY[seed]


# ---------------------------------------------------------------- full-resolution stamps

def _gauss(d: np.ndarray, sigma: float) -> np.ndarray:
    """A normalised 1-D Gaussian; the PSF is the outer product of two (separable, fast)."""
    return np.exp(-0.5 * (d / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)


def _star_colour(rng: np.random.Generator) -> np.ndarray:
    t = rng.beta(1.3, 1.6)  # 0 red dwarf … 1 hot blue star
    red, blue = np.array([1.0, 0.55, 0.32]), np.array([0.78, 0.9, 1.0])
    col = (1 - t) * red + t * blue
    return (col * 3.0 / col.sum()).astype(np.float32)


class _Frame:
    """The 424x424 signal (linear flux) plus the boxes where it is non-zero."""

    def __init__(self) -> None:
        self.signal = np.zeros((3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
        self.boxes: list[tuple[int, int, int, int]] = []

    def add(self, y0: int, x0: int, block: np.ndarray) -> None:
        """Add a (3, h, w) ``block`` with its top-left corner at (y0, x0), clipped to the frame."""
        h, w = block.shape[1:]
        ya, xa = max(y0, 0), max(x0, 0)
        yb, xb = min(y0 + h, IMAGE_SIZE), min(x0 + w, IMAGE_SIZE)
        if ya >= yb or xa >= xb:
            return
        self.signal[:, ya:yb, xa:xb] += block[:, ya - y0 : yb - y0, xa - x0 : xb - x0]
        self.boxes.append((ya, yb, xa, xb))

    def regions(self) -> list[tuple[int, int, int, int]]:
        """The boxes to re-stretch, largest first, without boxes inside an earlier one."""
        kept: list[tuple[int, int, int, int]] = []
        for box in sorted(self.boxes, key=lambda b: (b[1] - b[0]) * (b[3] - b[2]), reverse=True):
            if not any(k[0] <= box[0] and box[1] <= k[1] and k[2] <= box[2] and box[3] <= k[3]
                       for k in kept):
                kept.append(box)
        return kept

    def point(self, cx: float, cy: float, flux: float, colour: np.ndarray, sigma: float,
              spikes: float = 0.0, spike_angle: float = 0.0) -> None:
        """A star (PSF core + halo, optional diffraction spikes) centred at (cx, cy)."""
        wing_peak = 0.12 * flux / (2 * np.pi * (3.0 * sigma) ** 2)
        reach = 3.0 * sigma * np.sqrt(2.0 * np.log(max(wing_peak / 0.03, 1.0)))
        half = int(np.ceil(max(4 * sigma, reach) + spikes))
        y0, x0 = int(round(cy)) - half, int(round(cx)) - half
        dy = np.arange(y0, y0 + 2 * half + 1, dtype=np.float32) - np.float32(cy)
        dx = np.arange(x0, x0 + 2 * half + 1, dtype=np.float32) - np.float32(cx)
        light = 0.88 * np.outer(_gauss(dy, sigma), _gauss(dx, sigma))
        light += 0.12 * np.outer(_gauss(dy, 3.0 * sigma), _gauss(dx, 3.0 * sigma))
        if spikes > 0:
            a, b = rotate(dx[None, :], dy[:, None], spike_angle)
            width = 0.6 * sigma
            spike = (np.exp(-0.5 * (b / width) ** 2) * np.exp(-np.abs(a) / (0.3 * spikes))
                     + np.exp(-0.5 * (a / width) ** 2) * np.exp(-np.abs(b) / (0.3 * spikes)))
            light = light + 0.02 * spike / (width * spikes)
        self.add(y0, x0, light[None] * (flux * colour)[:, None, None])


def _field(frame: _Frame, rng: np.random.Generator, psf: float, centre: float,
           exclusion: float) -> None:
    """Foreground stars and small background galaxies scattered over the frame."""
    spike_angle = rng.uniform(0, 90)
    for _ in range(rng.poisson(6.0)):
        cx, cy = rng.uniform(-10, IMAGE_SIZE + 10, 2)
        if np.hypot(cx - centre, cy - centre) < exclusion:
            continue
        flux = float(np.exp(rng.uniform(np.log(25), np.log(6000))))
        spikes = 0.008 * flux if flux > 4000 else 0.0
        frame.point(cx, cy, flux, _star_colour(rng), psf, spikes, spike_angle)
    for _ in range(rng.poisson(2.5)):
        cx, cy = rng.uniform(0, IMAGE_SIZE, 2)
        if np.hypot(cx - centre, cy - centre) < exclusion:
            continue
        re = rng.uniform(1.5, 6.0)
        half = int(8 * re) + 4
        y0, x0 = int(cy) - half, int(cx) - half
        yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
        u, v = rotate(xx + x0 + half - cx, yy + y0 + half - cy, rng.uniform(0, 180))
        r = elliptical_radius(u, v, rng.uniform(0.3, 1.0))
        prof = sersic(np.sqrt(r * r + psf * psf), rng.uniform(0.7, 4.0), re)  # blurred core
        t = rng.uniform()
        col = np.array([1.0, 0.7 + 0.15 * t, 0.42 + 0.45 * t], dtype=np.float32)
        flux = float(np.exp(rng.uniform(np.log(40), np.log(900))))
        colour = (col * 3 / col.sum() * flux)[:, None, None]
        frame.add(y0, x0, prof.astype(np.float32)[None] * colour)


def _artifact(frame: _Frame, p: GalaxyParams, rng: np.random.Generator, psf: float,
              cx: float, cy: float) -> None:
    if p.artifact == "star":
        flux = float(np.exp(rng.uniform(np.log(30000), np.log(300000))))
        frame.point(cx + rng.normal(0, 2), cy + rng.normal(0, 2), flux, _star_colour(rng),
                    psf * rng.uniform(1.0, 1.6), 0.02 * flux ** 0.8, rng.uniform(0, 90))
    elif p.artifact == "trail":
        yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32)
        a = np.radians(rng.uniform(0, 180))
        dist = (xx - cx - rng.normal(0, 6)) * np.sin(a) - (yy - cy) * np.cos(a)
        line = np.exp(-0.5 * (dist / rng.uniform(0.7, 1.3)) ** 2) * rng.uniform(4, 14)
        colour = np.zeros(3, dtype=np.float32)
        colour[rng.integers(0, 3)] = 1.0
        frame.add(0, 0, line[None] * colour[:, None, None])


def _upsample2(a: np.ndarray) -> np.ndarray:
    """Bilinear 2x upsampling of (3, G, G) (pixel centres kept aligned, edges clamped)."""
    rows = np.empty((a.shape[0], 2 * a.shape[1], a.shape[2]), dtype=a.dtype)
    _interleave(a, rows, axis=1)
    out = np.empty((a.shape[0], 2 * a.shape[1], 2 * a.shape[2]), dtype=a.dtype)
    _interleave(rows, out, axis=2)
    return out


def _interleave(a: np.ndarray, out: np.ndarray, axis: int) -> None:
    """Fill ``out`` (twice as long along ``axis``) with 3:1 blends of neighbouring samples."""
    def sl(part: slice) -> tuple[slice, ...]:
        index = [slice(None)] * a.ndim
        index[axis] = part
        return tuple(index)

    first, rest, last, head = sl(slice(0, 1)), sl(slice(1, None)), sl(slice(-1, None)), \
        sl(slice(None, -1))
    out[first] = a[first]
    out[last] = a[last]
    np.multiply(a[rest], 0.75, out=out[sl(slice(2, None, 2))])
    out[sl(slice(2, None, 2))] += 0.25 * a[head]
    np.multiply(a[head], 0.75, out=out[sl(slice(1, -1, 2))])
    out[sl(slice(1, -1, 2))] += 0.25 * a[rest]


def _taper(x: np.ndarray, y: np.ndarray, radius: float) -> np.ndarray:
    """1 inside, falling smoothly to 0 at ``radius``: a round fade hides the window's edge."""
    t = np.clip((radius - np.sqrt(x * x + y * y)) / (0.3 * radius), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def _window(p: GalaxyParams) -> int:
    extent = 6.0 * p.size + 16
    if p.disturbed or p.merger:
        extent *= 1.4
    if p.merger:
        extent = max(extent, 1.6 * np.hypot(p.companion_dx, p.companion_dy) + 4 * p.size)
    if p.lens:
        extent = max(extent, 2 * p.extra["arc_radius"] + 10)
    return int(np.clip(np.ceil(extent / 16.0) * 16, 64, 384))


def render_galaxy(params: GalaxyParams, rng: np.random.Generator,
                  sky: SkyBank | None = None) -> np.ndarray:
    """The galaxy as a 424x424x3 uint8 image: centred, PSF-blurred, noisy, asinh-stretched."""
    sky = sky if sky is not None else sky_bank(0)
    noise, image = sky.crop(rng)
    psf = params.psf_sigma
    centre = (IMAGE_SIZE - 1) / 2.0
    cx, cy = centre + rng.normal(0, 0.8, 2)
    frame = _Frame()
    width = _window(params)
    step = 2 if width > 96 else 1
    grid = width // step
    wx0, wy0 = int(round(cx - width / 2)), int(round(cy - width / 2))
    coords = np.arange(grid, dtype=np.float32) * step + (step - 1) / 2.0
    x = (coords + wx0 - cx)[None, :]
    y = (coords + wy0 - cy)[:, None]
    x, y = np.broadcast_to(x, (grid, grid)), np.broadcast_to(y, (grid, grid))
    if params.artifact != "star":
        light = galaxy_light(params, x, y, step, rng)
        light = gaussian_filter(light, sigma=(0, psf / step, psf / step), truncate=3.0)
        light *= _taper(x, y, width / 2.0 - 2.0 * psf)[None]
        if step > 1:
            light = _upsample2(light)
        if rng.random() < 0.35:  # i and g frames registered only to a pixel: colour fringes
            for band, (dy, dx) in zip((0, 2), rng.integers(-1, 2, size=(2, 2)), strict=True):
                light[band] = np.roll(light[band], (int(dy), int(dx)), axis=(0, 1))
        frame.add(wy0, wx0, light)
    if params.other_odd:
        sx, sy = params.extra["star_xy"]
        frame.point(cx + sx, cy + sy, params.extra["star_flux"], _star_colour(rng), psf)
    if params.artifact:
        _artifact(frame, params, rng, psf, cx, cy)
    _field(frame, rng, psf, centre, exclusion=min(2.5 * params.size + 10, 150))
    for ya, yb, xa, xb in frame.regions():
        for y0 in range(ya, yb, 64):  # strips of rows keep the temporaries in cache
            y1 = min(y0 + 64, yb)
            image[y0:y1, xa:xb] = _observe(frame.signal[:, y0:y1, xa:xb],
                                           noise[:, y0:y1, xa:xb])
    return image


def _observe(signal: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Sky + signal + sky and photon noise, asinh-stretched: (3, H, W) flux → (H, W, 3) uint8."""
    linear = signal * INVERSE_GAIN  # signal is non-negative: every component adds light
    linear += 1.0
    np.sqrt(linear, out=linear)
    linear *= noise
    linear += signal
    linear += SKY_PEDESTAL
    return lupton_stretch(linear)
