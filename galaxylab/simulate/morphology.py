"""True physical parameters of one synthetic galaxy, sampled from a type mix like Galaxy Zoo's.

Sizes are in pixels of the 424x424 frame, angles in degrees, fluxes in the renderer's linear
units, where the sky noise per pixel is about 0.7 (so brightness doubles as signal-to-noise).
The same parameters drive both the image (render.py) and the simulated volunteers
(volunteers.py), so the truth is shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

#: Galaxy types and their share of the universe (like the Kaggle training set's mix).
TYPE_MIX: dict[str, float] = {
    "elliptical": 0.42,
    "disk": 0.523,
    "irregular": 0.02,
    "merger": 0.025,
    "artifact": 0.012,
}

#: Bulge-to-total light ratios that separate the four answers of Q5 (none … dominant).
BULGE_CLASS_EDGES = (0.04, 0.16, 0.40)
#: Pitch angles (degrees) that separate tight / medium / loose winding (Q10).
PITCH_EDGES = (13.0, 23.0)
#: Apparent axis ratios that separate cigar / in between / round (Q7).
ROUNDNESS_EDGES = (0.45, 0.78)
#: Inclination (degrees) from which a disk counts as edge-on (Q2).
EDGE_ON_INCLINATION = 76.0

#: Odd features in the order of Q8's answers.
ODD_FEATURES = ("ring", "lens", "disturbed", "irregular", "other", "merger", "dust_lane")

#: Display colours (R, G, B ~ i, r, g bands) of the stellar populations, linear flux ratios.
RED = (1.0, 0.78, 0.55)
DISK = (0.97, 0.84, 0.76)
BLUE = (0.8, 0.76, 1.0)


def cumulative_weights(weights: list[float] | np.ndarray) -> np.ndarray:
    """Weights as a cumulative distribution ending at 1, the way Generator.choice makes it."""
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    return cdf / cdf[-1]


def pick(rng: np.random.Generator, cdf: np.ndarray, size: int | None = None) -> np.ndarray:
    """Indices drawn with the cumulative distribution ``cdf``: the draws of
    ``rng.choice(len(cdf), size, p=weights)`` (one uniform each), without its checks."""
    return cdf.searchsorted(rng.random(size), side="right")


_TYPES = tuple(TYPE_MIX)
_TYPE_CDF = cumulative_weights(list(TYPE_MIX.values()))
_BULGE_CLASS_CDF = cumulative_weights([0.07, 0.42, 0.39, 0.12])
_ARM_PATTERNS = ("grand", "many", "flocculent")
_ARM_PATTERN_CDF = cumulative_weights([0.76, 0.1, 0.14])
_GRAND_ARMS_CDF = cumulative_weights([0.07, 0.64, 0.17, 0.12])  # 1, 2, 3 or 4 arms
_ARTIFACTS = ("star", "trail")
_ARTIFACT_CDF = cumulative_weights([0.7, 0.3])


@dataclass
class GalaxyParams:
    """Everything needed to render one galaxy and to know its true morphology."""

    galaxy_type: str
    flux: float  # total light of the main galaxy (linear flux units)
    position_angle: float  # degrees, major axis from the image x axis
    inclination: float = 0.0  # degrees, 0 face-on, 90 edge-on (disks)
    axis_ratio: float = 1.0  # apparent minor/major axis ratio of the whole galaxy
    sersic_n: float = 4.0  # bulge (or elliptical) Sersic index
    r_eff: float = 10.0  # bulge (or elliptical) effective radius, px
    bulge_q: float = 1.0  # bulge intrinsic axis ratio
    boxiness: float = 2.0  # generalised-ellipse exponent: 2 ellipse, >2 boxy
    bulge_fraction: float = 1.0  # B/T (1 for ellipticals)
    disk_scale: float = 0.0  # exponential scale length, px
    disk_thickness: float = 0.12  # intrinsic thickness of the disk (z0/h)
    bar: bool = False
    bar_strength: float = 0.0  # fraction of disk light in the bar
    bar_length: float = 0.0  # semi-major axis, px (disk plane)
    bar_angle: float = 0.0  # degrees in the disk plane
    n_arms: int = 0  # 0 none; 1-4; 5+ many; arm_pattern tells flocculent
    arm_pattern: str = "none"  # none, grand, many, flocculent
    pitch_angle: float = 0.0  # degrees
    arm_strength: float = 0.0  # fraction of disk light in the arms
    ring: bool = False
    ring_radius: float = 0.0
    ring_strength: float = 0.0
    lens: bool = False  # a gravitational arc beside the galaxy
    dust_lane: bool = False
    dust_tau: float = 0.0
    disturbed: bool = False
    disturbance: float = 0.0
    irregular: bool = False
    merger: bool = False
    companion_dx: float = 0.0
    companion_dy: float = 0.0
    companion_flux_ratio: float = 0.0
    companion_r_eff: float = 0.0
    other_odd: bool = False  # a bright foreground star on the galaxy
    artifact: str = ""  # '', 'star', 'trail'
    colour_bulge: tuple[float, float, float] = RED
    colour_disk: tuple[float, float, float] = DISK
    colour_young: tuple[float, float, float] = BLUE
    odd_feature: str = ""  # the main odd feature (one of ODD_FEATURES) or ''
    surface_brightness: float = 0.0  # mean surface brightness inside ~1.4 sizes (flux/px)
    psf_sigma: float = 2.0  # seeing: Gaussian PSF sigma, px
    ambiguity: float = 0.0  # 0 clear-cut … 1 confusing to volunteers (latent)
    impression: float = 0.0  # N(0, 1): how featured it looks beyond its parameters
    extra: dict = field(default_factory=dict)

    @property
    def size(self) -> float:
        """Characteristic half-light-like radius in pixels, for visibility and framing."""
        if self.galaxy_type in ("disk", "irregular") or self.disk_scale > 0:
            return float(
                max(
                    1.68 * self.disk_scale * (1 - self.bulge_fraction)
                    + self.r_eff * self.bulge_fraction,
                    2.0,
                )
            )
        return float(self.r_eff)

    @property
    def bulge_class(self) -> int:
        """Index of the Q5 answer the bulge fraction belongs to (0 none … 3 dominant)."""
        return int(np.searchsorted(BULGE_CLASS_EDGES, self.bulge_fraction))

    @property
    def edge_on(self) -> bool:
        """True for disks seen within about 14 degrees of edge-on."""
        return self.disk_scale > 0 and self.inclination >= EDGE_ON_INCLINATION

    def as_record(self) -> dict:
        """Flat dictionary for truth.csv (colours and extras left out)."""
        skip = ("colour_bulge", "colour_disk", "colour_young", "extra")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


def _colour(
    rng: np.random.Generator, base: tuple[float, float, float], spread: float
) -> tuple[float, float, float]:
    jitter = np.exp(rng.normal(0.0, spread, 3))
    c = np.asarray(base) * jitter
    r, g, b = (float(v) for v in c / c.max())
    return r, g, b


def _set_brightness(rng: np.random.Generator, p: GalaxyParams) -> None:
    """Total flux from a log-normal mean surface brightness (the galaxy's signal-to-noise)."""
    p.surface_brightness = float(np.clip(np.exp(rng.normal(np.log(40.0), 0.5)), 8.0, 100.0))
    p.flux = float(p.surface_brightness * np.pi * (1.4 * p.size) ** 2)


def _sample_disk(rng: np.random.Generator, p: GalaxyParams) -> None:
    p.disk_scale = float(np.clip(np.exp(rng.normal(np.log(22.0), 0.28)), 7.0, 40.0))
    p.inclination = float(np.degrees(np.arccos(rng.uniform(0.0, 1.0))))
    p.disk_thickness = float(rng.uniform(0.08, 0.2))
    i = np.radians(p.inclination)
    p.axis_ratio = float(np.sqrt(np.cos(i) ** 2 + (p.disk_thickness * np.sin(i)) ** 2))
    bulge_class = int(pick(rng, _BULGE_CLASS_CDF))
    lo, hi = ((0.0, 0.02), (0.05, 0.15), (0.17, 0.38), (0.42, 0.65))[bulge_class]
    p.bulge_fraction = float(rng.uniform(lo, hi))
    p.sersic_n = float(rng.uniform(1.0, 4.0))
    p.r_eff = float(p.disk_scale * rng.uniform(0.15, 0.35))
    p.bulge_q = float(rng.uniform(0.65, 0.95))
    if p.bulge_fraction > 0.03 and p.edge_on and rng.random() < 0.3:
        p.boxiness = float(rng.uniform(3.0, 4.5))
        p.bulge_q = float(rng.uniform(0.5, 0.75))
    p.bar = bool(rng.random() < 0.32)
    if p.bar:
        p.bar_strength = float(rng.uniform(0.12, 0.3))
        p.bar_length = float(p.disk_scale * rng.uniform(0.9, 1.8))
        p.bar_angle = float(rng.uniform(0.0, 180.0))
    if rng.random() < 0.75:
        pattern = _ARM_PATTERNS[pick(rng, _ARM_PATTERN_CDF)]
        p.arm_pattern = str(pattern)
        if pattern == "grand":
            p.n_arms = int(pick(rng, _GRAND_ARMS_CDF)) + 1
        elif pattern == "many":
            p.n_arms = int(rng.integers(5, 8))
        else:
            p.n_arms = int(rng.integers(3, 6))
        p.pitch_angle = float(np.clip(rng.normal(18.0, 7.5), 5.0, 40.0))
        p.arm_strength = float(rng.uniform(0.12, 0.35))
    p.colour_bulge = _colour(rng, RED, 0.06)
    p.colour_disk = _colour(rng, DISK, 0.06)
    p.colour_young = _colour(rng, BLUE, 0.08)


def _sample_elliptical(rng: np.random.Generator, p: GalaxyParams) -> None:
    p.sersic_n = float(rng.uniform(2.5, 4.5))
    p.r_eff = float(np.clip(np.exp(rng.normal(np.log(20.0), 0.3)), 6.0, 36.0))
    p.bulge_fraction = 1.0
    p.bulge_q = float(np.clip(rng.beta(5.0, 1.9), 0.25, 1.0))
    p.axis_ratio = p.bulge_q
    p.colour_bulge = _colour(rng, RED, 0.05)


def _sample_irregular(rng: np.random.Generator, p: GalaxyParams) -> None:
    p.disk_scale = float(np.exp(rng.normal(np.log(20.0), 0.3)))
    p.bulge_fraction = 0.0
    p.r_eff = 0.3 * p.disk_scale
    p.axis_ratio = float(rng.uniform(0.4, 1.0))
    p.irregular = True
    p.extra["clumps"] = int(rng.integers(3, 9))
    p.colour_disk = _colour(rng, (0.8, 0.82, 0.92), 0.06)
    p.colour_young = _colour(rng, (0.6, 0.72, 1.0), 0.08)


def _sample_merger(rng: np.random.Generator, p: GalaxyParams) -> None:
    if rng.random() < 0.55:
        _sample_elliptical(rng, p)
    else:
        _sample_disk(rng, p)
        p.n_arms, p.arm_pattern, p.arm_strength = 0, "none", 0.0
    p.merger = True
    sep = (p.size * rng.uniform(1.2, 3.0)) + 4.0
    phi = rng.uniform(0.0, 2 * np.pi)
    p.companion_dx, p.companion_dy = float(sep * np.cos(phi)), float(sep * np.sin(phi))
    p.companion_flux_ratio = float(rng.uniform(0.25, 1.0))
    p.companion_r_eff = float(p.size * rng.uniform(0.5, 1.0))
    p.disturbance = float(rng.uniform(0.3, 1.0))


def sample_params(rng: np.random.Generator, galaxy_type: str | None = None) -> GalaxyParams:
    """Sample one galaxy's true parameters; ``galaxy_type`` forces a type (see TYPE_MIX)."""
    types = list(TYPE_MIX)
    if galaxy_type is None:
        galaxy_type = _TYPES[pick(rng, _TYPE_CDF)]
    elif galaxy_type not in TYPE_MIX:
        raise ValueError(f"unknown galaxy type {galaxy_type!r}; expected one of {types}")
    p = GalaxyParams(
        galaxy_type=galaxy_type, flux=0.0, position_angle=float(rng.uniform(0.0, 180.0))
    )
    if galaxy_type == "disk":
        _sample_disk(rng, p)
    elif galaxy_type == "elliptical":
        _sample_elliptical(rng, p)
    elif galaxy_type == "irregular":
        _sample_irregular(rng, p)
    elif galaxy_type == "merger":
        _sample_merger(rng, p)
    else:
        p.artifact = _ARTIFACTS[pick(rng, _ARTIFACT_CDF)]
        _sample_elliptical(rng, p)
        p.r_eff *= 0.6
    _set_brightness(rng, p)
    if p.artifact == "trail":
        p.flux *= 0.4
        p.surface_brightness *= 0.4
    p.psf_sigma = float(rng.uniform(1.8, 3.6))
    p.ambiguity = float(rng.beta(1.5, 5.0))
    p.impression = float(rng.normal())
    _sample_odd_features(rng, p)
    return p


def _sample_odd_features(rng: np.random.Generator, p: GalaxyParams) -> None:
    """Rings, arcs, dust lanes, disturbances and overlapping stars, then the main odd feature."""
    if p.artifact:
        return
    is_disk = p.galaxy_type == "disk"
    if is_disk and not p.edge_on and rng.random() < 0.09:
        p.ring = True
        p.ring_radius = float(p.disk_scale * rng.uniform(1.2, 2.6))
        p.ring_strength = float(rng.uniform(0.12, 0.3))
    if is_disk and p.edge_on and rng.random() < 0.15:
        p.dust_lane = True
        p.dust_tau = float(rng.uniform(1.5, 4.0))
    elif p.galaxy_type == "elliptical" and rng.random() < 0.01:
        p.dust_lane = True
        p.dust_tau = float(rng.uniform(0.8, 2.0))
    if p.galaxy_type in ("elliptical", "disk") and rng.random() < 0.03:
        p.lens = True
        p.extra["arc_radius"] = float(p.size * rng.uniform(1.8, 3.0) + 6)
        p.extra["arc_angle"] = float(rng.uniform(0, 360))
        p.extra["arc_span"] = float(rng.uniform(50, 120))
    if p.galaxy_type in ("elliptical", "disk") and rng.random() < 0.06:
        p.disturbed = True
        p.disturbance = float(rng.uniform(0.3, 1.0))
    if rng.random() < 0.025:
        p.other_odd = True
        r = p.size * rng.uniform(0.2, 1.2)
        a = rng.uniform(0, 2 * np.pi)
        p.extra["star_xy"] = (float(r * np.cos(a)), float(r * np.sin(a)))
        p.extra["star_flux"] = float(p.flux * rng.uniform(0.3, 1.0))
    for name in ("merger", "irregular", "lens", "ring", "dust_lane", "disturbed", "other_odd"):
        if getattr(p, name):
            p.odd_feature = "other" if name == "other_odd" else name
            break
