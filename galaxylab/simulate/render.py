"""Render a galaxy's true parameters as an SDSS-like gri colour composite (424x424 RGB).

The galaxy's light (light.py) is blurred by a Gaussian PSF and placed on a sky with
foreground stars, small background galaxies and, for artifacts, bright stars or satellite
trails. Flux is linear per pixel (sky noise sigma = SKY_NOISE); sky noise comes from a bank of
pre-sampled noise fields (one per universe seed); photon noise grows with the signal; a Lupton
asinh stretch maps flux to 8-bit colour. For speed the galaxy is computed only in a central
window, at half resolution when the window is large, everything is float32, and the stretch
is applied only where something was added: the rest of the frame is the pre-stretched sky.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter

from galaxylab.simulate.light import galaxy_light, radius_squared, rotate, sersic_squared
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
_RED_STAR, _BLUE_STAR = (1.0, 0.55, 0.32), (0.78, 0.9, 1.0)
_NORM = float(np.arcsinh(STRETCH_MAX / STRETCH_SOFTENING))


def lupton_stretch(linear: np.ndarray) -> np.ndarray:
    """Lupton et al. (2004) asinh stretch of (3, H, W) linear flux to (H, W, 3) uint8.

    The stretch acts on the mean of the bands and scales all three alike, so colours survive
    in bright cores (saturated pixels keep their hue, as in SDSS composites).
    """
    out = np.empty(linear.shape[1:] + (3,), dtype=np.uint8)
    _stretch_into(np.array(linear, dtype=np.float32), out)
    return out


def _stretch_into(linear: np.ndarray, out: np.ndarray) -> None:
    """The asinh stretch of (3, ...) float32 ``linear`` written into (..., 3) uint8 ``out``.

    Works in place on ``linear`` (its contents are lost) to spare temporaries.
    """
    r, g, b = linear
    total = r + g  # three times the intensity I
    total += b
    np.maximum(total, 3e-3, out=total)
    scale = np.arcsinh(total * (1.0 / (3.0 * STRETCH_SOFTENING)))
    scale /= total  # asinh(I / softening) / (NORM I), times NORM / 3
    peak = np.maximum(r, g)
    np.maximum(peak, b, out=peak)
    peak *= scale
    np.maximum(peak, _NORM / 3.0, out=peak)  # the brightest band of a saturated pixel: 255
    scale /= peak
    scale *= 255.0
    np.maximum(linear, 0.0, out=linear)
    linear *= scale
    linear += 0.5
    for k in range(3):
        out[..., k] = linear[k]  # truncation after + 0.5 rounds


class SkyBank:
    """Pre-sampled, slightly correlated sky noise (sigma SKY_NOISE) and its stretched image.

    Each galaxy takes a random crop and one of eight rotations/flips, so a universe pays for
    sampling sky noise once per process instead of once per image.
    """

    def __init__(self, seed: int = 0, size: int = _BANK_SIZE) -> None:
        rng = np.random.default_rng([seed, 1])
        noise = rng.standard_normal((3, size, size), dtype=np.float32)
        noise = gaussian_filter(noise, sigma=(0, NOISE_CORRELATION, NOISE_CORRELATION), mode="wrap")
        noise *= SKY_NOISE / noise.std(axis=(1, 2), keepdims=True)
        self.noise = noise.astype(np.float32, copy=False)
        # rotations by 90 degrees read the noise down its columns: they use a transposed copy
        self._noise_t = np.ascontiguousarray(self.noise.transpose(0, 2, 1))
        image = lupton_stretch(self.noise + SKY_PEDESTAL)
        # the eight orientations, stored contiguously so a crop is a fast copy
        self.images = [
            np.ascontiguousarray(np.rot90(image[:, ::-1] if k >= 4 else image, k % 4))
            for k in range(8)
        ]
        self.size = size

    def crop(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A random 424x424 (noise, stretched image) pair; the image is a writable copy."""
        y0, x0 = rng.integers(0, self.size - IMAGE_SIZE + 1, size=2)
        k = int(rng.integers(0, 8))
        noise = self.noise[..., ::-1] if k >= 4 else self.noise
        noise = np.rot90(noise, k % 4, axes=(1, 2))
        if abs(noise.strides[2]) > noise.itemsize:  # the same view, read along rows
            noise = self._noise_t[:, :: np.sign(noise.strides[1]), :: np.sign(noise.strides[2])]
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
    g = d * (1.0 / sigma)
    g *= g
    g *= -0.5
    np.exp(g, out=g)
    g *= 1.0 / (math.sqrt(2 * math.pi) * sigma)
    return g


def _star_colour(rng: np.random.Generator) -> np.ndarray:
    """A star's colour (bands' mean 1), between a red dwarf's and a hot blue star's."""
    t = rng.beta(1.3, 1.6)  # 0 red dwarf … 1 hot blue star
    col = [(1 - t) * red + t * blue for red, blue in zip(_RED_STAR, _BLUE_STAR, strict=True)]
    total = col[0] + col[1] + col[2]
    return np.array([c * 3.0 / total for c in col], dtype=np.float32)


def _offsets(start: int, count: int, centre: float) -> np.ndarray:
    """Pixel-centre coordinates ``start … start + count - 1`` relative to ``centre``, float32."""
    return np.arange(count, dtype=np.float32) + np.float32(start - centre)


Box = tuple[int, int, int, int]  # rows y0:y1, columns x0:x1 of the frame
_SPARE_SIGNAL: list[np.ndarray] = []


class _Frame:
    """The 424x424 signal (linear flux, float32) plus the boxes where it is non-zero."""

    def __init__(self) -> None:
        # a zeroed buffer kept from the previous galaxy: fresh 2 MB would page-fault each time
        self.signal = (
            _SPARE_SIGNAL.pop()
            if _SPARE_SIGNAL
            else np.zeros((3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
        )
        self.boxes: list[Box] = []
        self._dirty: list[Box] = []
        self._blank_bands = {0, 1, 2}  # bands nothing has been added to yet

    def release(self) -> None:
        """Zero what was added and keep the buffer for the next frame of this process."""
        for ya, yb, xa, xb in self._dirty:
            self.signal[:, ya:yb, xa:xb].fill(0.0)
        _SPARE_SIGNAL.append(self.signal)

    def add(
        self,
        y0: int,
        x0: int,
        block: np.ndarray,
        bands: slice | int = slice(None),
        mark: bool = True,
    ) -> None:
        """Add a (3, h, w) ``block``, or one band's (h, w), with its top-left corner at
        (y0, x0), clipped to the frame; ``mark=False`` when the caller marks tighter boxes."""
        box = _clip((y0, y0 + block.shape[-2], x0, x0 + block.shape[-1]))
        if box is not None:
            ya, yb, xa, xb = box
            self.signal[bands, ya:yb, xa:xb] += block[..., ya - y0 : yb - y0, xa - x0 : xb - x0]
            self._dirty.append(box)
            self._blank_bands.clear()
            if mark:
                self.boxes.append(box)

    def add_coloured(self, y0: int, x0: int, profile: np.ndarray, colour: np.ndarray) -> None:
        """Add a single-band (h, w) ``profile`` times the per-band fluxes ``colour``."""
        box = _clip((y0, y0 + profile.shape[0], x0, x0 + profile.shape[1]))
        if box is not None:
            ya, yb, xa, xb = box
            part = profile[ya - y0 : yb - y0, xa - x0 : xb - x0]
            colour = np.asarray(colour, dtype=np.float32)[:, None, None]
            self.signal[:, ya:yb, xa:xb] += part[None] * colour
            self._dirty.append(box)
            self._blank_bands.clear()
            self.boxes.append(box)

    def blank_window(self, bands: slice | int, y0: int, x0: int, size: int) -> np.ndarray | None:
        """The signal of a size x size window at (y0, x0) to write into (rather than add to),
        once per band before anything is added; None when that cannot be done."""
        box = (y0, y0 + size, x0, x0 + size)
        wanted = {0, 1, 2} if isinstance(bands, slice) else {bands}
        if not wanted <= self._blank_bands or _clip(box) != box:
            return None
        self._blank_bands -= wanted
        self._dirty.append(box)
        return self.signal[bands, y0 : y0 + size, x0 : x0 + size]

    def mark(self, boxes: list[Box]) -> None:
        """Record boxes that hold light added with ``mark=False``."""
        self.boxes.extend(b for b in map(_clip, boxes) if b is not None)

    def regions(self) -> list[Box]:
        """Disjoint boxes covering every marked box: each pixel is stretched once."""
        kept: list[Box] = []
        for box in sorted(self.boxes, key=lambda b: (b[1] - b[0]) * (b[3] - b[2]), reverse=True):
            ya, yb, xa, xb = box
            pieces = [box]
            for other in kept:
                if other[0] < yb and ya < other[1] and other[2] < xb and xa < other[3]:
                    pieces = [piece for p in pieces for piece in _subtract(p, other)]
            kept.extend(pieces)
        return kept

    def point(
        self,
        cx: float,
        cy: float,
        flux: float,
        colour: np.ndarray,
        sigma: float,
        spikes: float = 0.0,
        spike_angle: float = 0.0,
    ) -> None:
        """A star (PSF core + halo, optional diffraction spikes) centred at (cx, cy)."""
        wing_peak = 0.12 * flux / (2 * math.pi * (3.0 * sigma) ** 2)
        reach = 3.0 * sigma * math.sqrt(2.0 * math.log(max(wing_peak / 0.03, 1.0)))
        half = int(math.ceil(max(4 * sigma, reach) + spikes))
        y0, x0 = int(round(cy)) - half, int(round(cx)) - half
        dy, dx = _offsets(y0, 2 * half + 1, cy), _offsets(x0, 2 * half + 1, cx)
        light = np.multiply.outer(0.88 * _gauss(dy, sigma), _gauss(dx, sigma))
        light += np.multiply.outer(0.12 * _gauss(dy, 3.0 * sigma), _gauss(dx, 3.0 * sigma))
        if spikes > 0:
            a, b = rotate(dx[None, :], dy[:, None], spike_angle)
            width = 0.6 * sigma
            spike = np.exp(-0.5 * (b * (1.0 / width)) ** 2) * np.exp(
                np.abs(a) * (-1.0 / (0.3 * spikes))
            )
            spike += np.exp(-0.5 * (a * (1.0 / width)) ** 2) * np.exp(
                np.abs(b) * (-1.0 / (0.3 * spikes))
            )
            spike *= 0.02 / (width * spikes)
            light += spike
        self.add_coloured(y0, x0, light, flux * colour)


def _clip(box: Box) -> Box | None:
    """The part of ``box`` inside the frame, None when nothing is."""
    ya, yb, xa, xb = (
        max(box[0], 0),
        min(box[1], IMAGE_SIZE),
        max(box[2], 0),
        min(box[3], IMAGE_SIZE),
    )
    return (ya, yb, xa, xb) if ya < yb and xa < xb else None


def _subtract(box: Box, other: Box) -> list[Box]:
    """``box`` minus ``other`` as up to four disjoint boxes (above, below, left, right)."""
    ya, yb, xa, xb = box
    oa, ob, pa, pb = other
    if oa >= yb or ob <= ya or pa >= xb or pb <= xa:
        return [box]
    pieces = []
    if ya < oa:
        pieces.append((ya, oa, xa, xb))
    if ob < yb:
        pieces.append((ob, yb, xa, xb))
    mid_a, mid_b = max(ya, oa), min(yb, ob)
    if xa < pa:
        pieces.append((mid_a, mid_b, xa, pa))
    if pb < xb:
        pieces.append((mid_a, mid_b, pb, xb))
    return pieces


def _disc_boxes(cx: float, cy: float, radius: float, bands: int = 6) -> list[Box]:
    """Horizontal bands, each as wide as the disc at its widest row, covering the disc."""
    edges = [radius * (2 * k / bands - 1) for k in range(bands + 1)]
    boxes = []
    for top, bottom in zip(edges[:-1], edges[1:], strict=True):
        nearest = 0.0 if top < 0 < bottom else min(abs(top), abs(bottom))
        half = math.sqrt(max(radius * radius - nearest * nearest, 0.0))
        boxes.append(
            (
                math.floor(cy + top),
                math.ceil(cy + bottom) + 1,
                math.floor(cx - half),
                math.ceil(cx + half) + 1,
            )
        )
    return boxes


def _field(
    frame: _Frame, rng: np.random.Generator, psf: float, centre: float, exclusion: float
) -> None:
    """Foreground stars and small background galaxies scattered over the frame."""
    spike_angle = rng.uniform(0, 90)
    for _ in range(rng.poisson(6.0)):
        cx, cy = (float(v) for v in rng.uniform(-10, IMAGE_SIZE + 10, 2))
        if math.hypot(cx - centre, cy - centre) < exclusion:
            continue
        flux = math.exp(rng.uniform(math.log(25), math.log(6000)))
        spikes = 0.008 * flux if flux > 4000 else 0.0
        frame.point(cx, cy, flux, _star_colour(rng), psf, spikes, spike_angle)
    for _ in range(rng.poisson(2.5)):
        cx, cy = (float(v) for v in rng.uniform(0, IMAGE_SIZE, 2))
        if math.hypot(cx - centre, cy - centre) < exclusion:
            continue
        _background_galaxy(frame, rng, psf, cx, cy)


def _background_galaxy(
    frame: _Frame, rng: np.random.Generator, psf: float, cx: float, cy: float
) -> None:
    """A small, faint Sersic galaxy far behind the target, its core softened by the PSF."""
    re = rng.uniform(1.5, 6.0)
    half = int(8 * re) + 4
    y0, x0 = int(cy) - half, int(cx) - half
    xs, ys = _offsets(x0, 2 * half + 1, cx)[None, :], _offsets(y0, 2 * half + 1, cy)[:, None]
    u, v = rotate(xs, ys, rng.uniform(0, 180))
    r2 = radius_squared(u, v, rng.uniform(0.3, 1.0), 0.25 + psf * psf)  # blurred core
    prof = sersic_squared(r2, rng.uniform(0.7, 4.0), re)
    t = rng.uniform()
    col = np.array([1.0, 0.7 + 0.15 * t, 0.42 + 0.45 * t], dtype=np.float32)
    flux = math.exp(rng.uniform(math.log(40), math.log(900)))
    frame.add_coloured(y0, x0, prof, col * (3 * flux / col.sum()))


def _artifact(
    frame: _Frame, p: GalaxyParams, rng: np.random.Generator, psf: float, cx: float, cy: float
) -> None:
    if p.artifact == "star":
        flux = math.exp(rng.uniform(math.log(30000), math.log(300000)))
        frame.point(
            cx + rng.normal(0, 2),
            cy + rng.normal(0, 2),
            flux,
            _star_colour(rng),
            psf * rng.uniform(1.0, 1.6),
            0.02 * flux**0.8,
            rng.uniform(0, 90),
        )
    elif p.artifact == "trail":
        a = math.radians(rng.uniform(0, 180))
        xs = _offsets(0, IMAGE_SIZE, cx + rng.normal(0, 6))[None, :]
        ys = _offsets(0, IMAGE_SIZE, cy)[:, None]
        dist = xs * math.sin(a) - ys * math.cos(a)
        line = np.exp(-0.5 * (dist * (1.0 / rng.uniform(0.7, 1.3))) ** 2)
        brightness = rng.uniform(4, 14)
        colour = np.zeros(3, dtype=np.float32)
        colour[rng.integers(0, 3)] = brightness
        frame.add_coloured(0, 0, line, colour)


def _upsample2(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Bilinear 2x upsampling of (..., G, G) (pixel centres kept aligned, edges clamped),
    into ``out`` when given."""
    rows = np.empty(a.shape[:-2] + (2 * a.shape[-2], a.shape[-1]), dtype=a.dtype)
    _interleave(a, rows, axis=a.ndim - 2)
    if out is None:
        out = np.empty(a.shape[:-2] + (2 * a.shape[-2], 2 * a.shape[-1]), dtype=a.dtype)
    _interleave(rows, out, axis=a.ndim - 1)
    return out


def _interleave(a: np.ndarray, out: np.ndarray, axis: int) -> None:
    """Fill ``out`` (twice as long along ``axis``) with 3:1 blends of neighbouring samples."""

    def sl(part: slice) -> tuple[slice, ...]:
        index = [slice(None)] * a.ndim
        index[axis] = part
        return tuple(index)

    head, rest = a[sl(slice(None, -1))], a[sl(slice(1, None))]
    out[sl(slice(0, 1))] = a[sl(slice(0, 1))]
    out[sl(slice(-1, None))] = a[sl(slice(-1, None))]
    quarter = rest - head
    quarter *= 0.25
    np.subtract(rest, quarter, out=out[sl(slice(2, None, 2))])  # 3/4 rest + 1/4 head
    np.add(head, quarter, out=out[sl(slice(1, -1, 2))])  # 3/4 head + 1/4 rest


def _taper(x: np.ndarray, y: np.ndarray, radius: float) -> np.ndarray:
    """1 inside, falling smoothly to 0 at ``radius``: a round fade hides the window's edge."""
    t = np.sqrt(x * x + y * y)
    t *= -1.0 / (0.3 * radius)
    t += 1.0 / 0.3
    np.clip(t, 0.0, 1.0, out=t)
    return t * t * (3 - 2 * t)


def _window(p: GalaxyParams) -> int:
    extent = 6.0 * p.size + 16
    if p.disturbed or p.merger:
        extent *= 1.4
    if p.merger:
        extent = max(extent, 1.6 * np.hypot(p.companion_dx, p.companion_dy) + 4 * p.size)
    if p.lens:
        extent = max(extent, 2 * p.extra["arc_radius"] + 10)
    return int(np.clip(np.ceil(extent / 16.0) * 16, 64, 384))


def _add_galaxy(
    frame: _Frame, params: GalaxyParams, rng: np.random.Generator, cx: float, cy: float
) -> None:
    """The galaxy's light in its window: modelled, PSF-blurred, tapered, at full resolution."""
    psf = params.psf_sigma
    width = _window(params)
    step = 2 if width > 96 else 1
    grid = width // step
    wx0, wy0 = int(round(cx - width / 2)), int(round(cy - width / 2))
    centres = np.arange(grid, dtype=np.float32) * step + (step - 1) / 2.0
    x = (centres + np.float32(wx0 - cx))[None, :]
    y = (centres + np.float32(wy0 - cy))[:, None]
    light = galaxy_light(params, x, y, step, rng)
    gaussian_filter(light, sigma=(0, psf / step, psf / step), truncate=3.0, output=light)
    taper_radius = width / 2.0 - 2.0 * psf
    light *= _taper(x, y, taper_radius)[None]
    # bands and their (dy, dx) offsets; i and g registered only to a pixel give colour fringes
    placed: list[tuple[slice | int, int, int]] = [(slice(None), 0, 0)]
    if rng.random() < 0.35:
        (iy, ix), (gy, gx) = rng.integers(-1, 2, size=(2, 2))
        placed = [(0, int(iy), int(ix)), (1, 0, 0), (2, int(gy), int(gx))]
    for bands, dy, dx in placed:
        y0, x0 = wy0 + dy, wx0 + dx
        if step == 1:
            frame.add(y0, x0, light[bands], bands=bands, mark=False)
        elif (target := frame.blank_window(bands, y0, x0, width)) is not None:
            _upsample2(light[bands], out=target)  # straight into the frame: no copy to add
        else:
            frame.add(y0, x0, _upsample2(light[bands]), bands=bands, mark=False)
    # the light is zero beyond the taper; a margin covers the upsampling and the fringes
    frame.mark(_disc_boxes(cx, cy, taper_radius + 3.0))


def render_galaxy(
    params: GalaxyParams, rng: np.random.Generator, sky: SkyBank | None = None
) -> np.ndarray:
    """The galaxy as a 424x424x3 uint8 image: centred, PSF-blurred, noisy, asinh-stretched."""
    sky = sky if sky is not None else sky_bank(0)
    noise, image = sky.crop(rng)
    psf = params.psf_sigma
    centre = (IMAGE_SIZE - 1) / 2.0
    cx, cy = (centre + float(d) for d in rng.normal(0, 0.8, 2))
    frame = _Frame()
    if params.artifact != "star":
        _add_galaxy(frame, params, rng, cx, cy)
    if params.other_odd:
        sx, sy = params.extra["star_xy"]
        frame.point(cx + sx, cy + sy, params.extra["star_flux"], _star_colour(rng), psf)
    if params.artifact:
        _artifact(frame, params, rng, psf, cx, cy)
    _field(frame, rng, psf, centre, exclusion=min(2.5 * params.size + 10, 150))
    _observe_into(image, frame.signal, noise, frame.regions())
    frame.release()  # not reached on an error: a half-used buffer is never reused
    return image


def _observe_into(
    image: np.ndarray, signal: np.ndarray, noise: np.ndarray, regions: list[Box]
) -> None:
    """Sky + signal + sky and photon noise, asinh-stretched, written into ``image`` (H, W, 3
    uint8) in each region; ``signal`` and ``noise`` are (3, H, W) flux.

    The regions are gathered side by side into one (3, N) array, so the arithmetic runs once
    per galaxy rather than once per star.
    """
    sizes = [(yb - ya) * (xb - xa) for ya, yb, xa, xb in regions]
    ends = np.cumsum(sizes)
    lit = np.empty((3, sum(sizes)), dtype=np.float32)  # signal + sky pedestal
    for (ya, yb, xa, xb), end, size in zip(regions, ends, sizes, strict=True):
        np.copyto(_view(lit, end - size, end, ya, yb, xa, xb), signal[:, ya:yb, xa:xb])
    lit += SKY_PEDESTAL[:, :, 0]
    # noise sigma grows with the signal: sqrt(1 + gain * signal), the pedestal taken back out
    linear = lit * INVERSE_GAIN
    linear += (1.0 - INVERSE_GAIN * SKY_PEDESTAL)[:, :, 0]
    np.sqrt(linear, out=linear)
    for (ya, yb, xa, xb), end, size in zip(regions, ends, sizes, strict=True):
        part = _view(linear, end - size, end, ya, yb, xa, xb)
        part *= noise[:, ya:yb, xa:xb]
    linear += lit
    pixels = np.empty((lit.shape[1], 3), dtype=np.uint8)
    _stretch_into(linear, pixels)
    for (ya, yb, xa, xb), end, size in zip(regions, ends, sizes, strict=True):
        image[ya:yb, xa:xb] = pixels[end - size : end].reshape(yb - ya, xb - xa, 3)


def _view(
    flat: np.ndarray, start: int, stop: int, ya: int, yb: int, xa: int, xb: int
) -> np.ndarray:
    """Columns start:stop of a (3, N) array seen as the (3, yb - ya, xb - xa) region: always
    a view, as only the contiguous last axis is split."""
    return flat[:, start:stop].reshape(3, yb - ya, xb - xa)
