"""Simulated Galaxy Zoo volunteers: they walk the decision tree and sometimes miss faint features.

Each volunteer has a skill level (how faint a feature they still notice). Given a galaxy's
true parameters, :func:`answer_probabilities` says how likely a volunteer of each skill is to
pick each answer of each question; a volunteer's answers are sampled from those and only the
questions on their path through the tree count. So the vote fractions of ~40 volunteers
carry sampling noise, and faint, small or confusing galaxies get split votes, as real ones do.
Three label sets come out: the finite crowd's (:func:`vote`), the infinite crowd's
(:func:`expected_labels`) and a perfect observer's one path through the tree
(:func:`true_labels`).
"""

from __future__ import annotations

import math

import numpy as np

from galaxylab import tree
from galaxylab.simulate.morphology import (
    BULGE_CLASS_EDGES,
    EDGE_ON_INCLINATION,
    ODD_FEATURES,
    PITCH_EDGES,
    ROUNDNESS_EDGES,
    GalaxyParams,
    cumulative_weights,
    pick,
)

#: Skill levels (multiplying how visible a feature is) and the share of volunteers at each.
SKILLS = np.array([0.5, 1.0, 1.8])
SKILL_WEIGHTS = np.array([0.3, 0.45, 0.25])
_SKILL_CDF = cumulative_weights(SKILL_WEIGHTS)
#: Volunteers per galaxy: uniform in this inclusive range.
VOLUNTEERS = (30, 50)
#: Logit weight of the latent "impression" (how featured a galaxy looks beyond its visible
#: parameters, N(0, 1)). Real votes follow what the image shows: at 0.75 the impression alone
#: decided whether a smooth galaxy crossed Class1.1 = 0.8, and a classifier given every visible
#: parameter reached only 0.68 accuracy on the three classes; at 0.3 it reaches 0.75.
IMPRESSION_WEIGHT = 0.3
#: Share of "features" votes a smooth galaxy gets, base + slope * (1 - axis ratio): round
#: ellipticals are called smooth by almost everyone, elongated ones are often taken for disks.
SMOOTH_FEATURE_VOTES = (0.14, 0.4)

_SLICES = dict(tree.question_slices())
#: Q8 answers picked by volunteers who call a galaxy odd without a clear reason.
_ODD_BACKGROUND = np.array([0.08, 0.05, 0.2, 0.14, 0.33, 0.14, 0.06])


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def _logistic(x: float) -> float:
    """The sigmoid of one number, without overflow for either sign."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _detect(
    contrast: float, threshold: float, clarity: np.ndarray, width: float = 0.45
) -> np.ndarray:
    """Chance that a volunteer notices a feature, for each skill level (falls with faintness).

    sigmoid((log seen - log threshold) / width), written as 1 / (1 + (threshold / seen) **
    (1 / width)): the same number in fewer array operations.
    """
    ratio = (threshold / max(contrast, 1e-6)) / clarity
    ratio **= 1.0 / width
    ratio += 1.0
    return np.reciprocal(ratio, out=ratio)


def _ordinal(value: float, edges: tuple[float, ...], width: float) -> np.ndarray:
    """Soft class membership of ``value`` between ordered ``edges`` (a cumulative logit)."""
    above = [_logistic((value - edge) / width) for edge in edges]  # P(class > k)
    probs = [max(hi - lo, 0.0) for hi, lo in zip([1.0, *above], [*above, 0.0], strict=True)]
    return np.array(probs) / sum(probs)


def clarity(p: GalaxyParams) -> float:
    """How well structure can be seen: size in PSF widths and surface brightness (SNR)."""
    resolution = p.size / p.psf_sigma
    return float((resolution / 10.0) ** 0.7 * (max(p.surface_brightness, 1e-3) / 25.0) ** 0.35)


def _face_on(p: GalaxyParams) -> float:
    return float(max(np.cos(np.radians(p.inclination)), 0.0))


def _arm_contrast(p: GalaxyParams) -> float:
    if p.n_arms == 0:
        return 0.0
    pattern = {"grand": 1.0, "many": 0.9, "flocculent": 0.7}[p.arm_pattern]
    return p.arm_strength * (1.0 - 0.8 * p.bulge_fraction) * _face_on(p) ** 0.8 * pattern


def _bar_contrast(p: GalaxyParams) -> float:
    if not p.bar:
        return 0.0
    return p.bar_strength * min(p.bar_length / p.disk_scale, 2.0) * _face_on(p) ** 0.5


def _odd_contrast(p: GalaxyParams) -> float:
    """Contrast of the main odd feature (0 when there is none)."""
    return {
        "": 0.0,
        "ring": p.ring_strength * _face_on(p) ** 0.3 * 1.2,
        "lens": 0.35,
        "disturbed": 0.35 * p.disturbance,
        "irregular": 1.0,
        "other": 0.5 * min(p.extra.get("star_flux", 0.0) / max(p.flux, 1e-6), 1.0) + 0.2,
        "merger": 0.4 + 0.6 * p.companion_flux_ratio,
        "dust_lane": 0.12 * p.dust_tau,
    }[p.odd_feature]


def _q1(p: GalaxyParams, c: np.ndarray) -> np.ndarray:
    a = p.ambiguity
    star = np.full_like(c, 0.008 + 0.03 * a)
    if p.artifact == "star":
        star[:] = 0.72 + 0.25 * (1 - a)
    elif p.artifact == "trail":
        star[:] = 0.35 + 0.4 * (1 - a)
    if p.galaxy_type == "irregular":
        feat = 0.6 + 0.35 * _detect(1.0, 0.4, c)
    elif p.disk_scale > 0:
        edge = (1.0 - p.axis_ratio) * 0.6 if p.inclination > 60 else 0.0
        seen = max(
            _arm_contrast(p), _bar_contrast(p), edge, p.ring_strength, 0.1 * (1 - p.bulge_fraction)
        )
        feat = 0.16 + 0.81 * _detect(seen, 0.1, c, 0.8)
    else:
        base, per_elongation = SMOOTH_FEATURE_VOTES
        feat = base + per_elongation * (1 - p.axis_ratio) + np.zeros_like(c)
    if p.merger:
        feat = np.maximum(feat, 0.25)
    feat = _sigmoid(np.log(feat / (1 - feat)) + IMPRESSION_WEIGHT * p.impression)
    feat = feat * (1.0 - star)  # shares of the volunteers who see a galaxy, not a star
    return np.stack([1.0 - star - feat, feat, star], axis=1)


def _q2(p: GalaxyParams, c: np.ndarray) -> np.ndarray:
    if p.disk_scale > 0:
        sure = 0.55 + 0.45 * _detect(1.0, 0.6, c)
        yes = 0.03 + 0.94 * _sigmoid((p.inclination - EDGE_ON_INCLINATION - 1) / 3.0) * sure
    else:
        yes = 0.03 + 0.7 * _sigmoid((0.4 - p.axis_ratio) / 0.07) + np.zeros_like(c)
    return np.stack([yes, 1 - yes], axis=1)


def _yes_no(contrast: float, threshold: float, c: np.ndarray, false_rate: float) -> np.ndarray:
    yes = false_rate + (0.97 - false_rate) * _detect(contrast, threshold, c)
    return np.stack([yes, 1 - yes], axis=1)


def _per_skill(row: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The same answer probabilities at every skill level: one row that broadcasts."""
    return np.asarray(row)[None, :]


def _q5(p: GalaxyParams, c: np.ndarray) -> np.ndarray:
    fraction = p.bulge_fraction if p.disk_scale > 0 else 0.25  # no disk: just "a big bulge"
    seen = np.log(max(fraction, 0.015)) + 0.1 + 0.5 * (p.ambiguity - 0.2)
    return _per_skill(_ordinal(seen, tuple(np.log(BULGE_CLASS_EDGES)), 0.28), c)


def _q7(p: GalaxyParams, c: np.ndarray) -> np.ndarray:
    probs = _ordinal(p.axis_ratio, ROUNDNESS_EDGES, 0.05)[::-1]  # round, in between, cigar
    return _per_skill(probs, c)


def _q9(p: GalaxyParams, c: np.ndarray) -> np.ndarray:
    none = _sigmoid((np.log(BULGE_CLASS_EDGES[0]) - np.log(p.bulge_fraction + 1e-3)) / 0.5)
    boxy = (1 - none) * (0.08 + 0.75 * _sigmoid((p.boxiness - 2.7) / 0.25))
    return _per_skill(np.array([1 - none - boxy, boxy, none]), c)


def _q10(p: GalaxyParams, c: np.ndarray) -> np.ndarray:
    pitch = p.pitch_angle if p.n_arms else 18.0
    return _per_skill(_ordinal(pitch, PITCH_EDGES, 2.0 + 3 * p.ambiguity), c)


def _q11(p: GalaxyParams, c: np.ndarray) -> np.ndarray:
    counts = np.zeros(6)
    if p.arm_pattern == "grand":
        m = p.n_arms - 1
        counts[m] = 1.0
        counts[max(m - 1, 0)] += 0.07
        counts[min(m + 1, 4)] += 0.07
    elif p.arm_pattern == "many":
        counts[[3, 4, 5]] = [0.08, 1.0, 0.1]
    elif p.arm_pattern == "flocculent":
        counts[[1, 2, 4, 5]] = [0.05, 0.1, 0.2, 1.0]
    else:
        counts[[0, 1, 5]] = [0.2, 0.4, 1.0]
    counts /= counts.sum()
    seen = _detect(max(_arm_contrast(p), 0.02), 0.08, c)[:, None]
    unsure = np.array([0.05, 0.3, 0.1, 0.05, 0.05, 0.45])
    return seen * counts + (1 - seen) * unsure


def _q6_q8(p: GalaxyParams, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    seen = _detect(_odd_contrast(p), 0.2, c) if p.odd_feature else np.zeros_like(c)
    base = 0.06 + 0.3 * p.ambiguity
    odd = base + (0.82 - base) * seen
    q8 = np.tile(_ODD_BACKGROUND, (len(c), 1))
    if p.odd_feature:
        q8[:, ODD_FEATURES.index(p.odd_feature)] += 7.0 * seen
        if p.merger:
            q8[:, ODD_FEATURES.index("disturbed")] += 0.8 * seen
    q8 /= q8.sum(axis=1, keepdims=True)
    return np.stack([odd, 1 - odd], axis=1), q8


def answer_probabilities(p: GalaxyParams) -> np.ndarray:
    """(skill levels, 37): each question's answer probabilities for a volunteer who reaches it."""
    c = clarity(p) * SKILLS
    probs = np.zeros((len(SKILLS), len(tree.COLUMNS)))
    q6, q8 = _q6_q8(p, c)
    blocks = {
        1: _q1(p, c),
        2: _q2(p, c),
        3: _yes_no(_bar_contrast(p), 0.045, c, 0.04 + 0.1 * p.ambiguity),
        4: _yes_no(_arm_contrast(p), 0.05, c, 0.05 + 0.15 * p.ambiguity),
        5: _q5(p, c),
        6: q6,
        7: _q7(p, c),
        8: q8,
        9: _q9(p, c),
        10: _q10(p, c),
        11: _q11(p, c),
    }
    for number, block in blocks.items():
        probs[:, _SLICES[number]] = block
    return probs


def true_fractions(p: GalaxyParams) -> np.ndarray:
    """Per-question answers (0/1) of a perfect observer who sees the true morphology."""
    pick: dict[int, int] = {}
    if p.artifact:
        pick[1] = 2
    elif p.galaxy_type == "elliptical" or (p.merger and p.disk_scale == 0):
        pick[1] = 0
        pick[7] = 2 - int(np.searchsorted(ROUNDNESS_EDGES, p.axis_ratio))
    else:
        pick[1] = 1
        if p.edge_on:
            pick[2] = 0
            pick[9] = 2 if p.bulge_class == 0 else (1 if p.boxiness > 2.5 else 0)
        else:
            pick[2] = 1
            pick[3] = 0 if p.bar else 1
            pick[4] = 0 if p.n_arms else 1
            pick[5] = p.bulge_class
            if p.n_arms:
                pick[10] = int(np.searchsorted(PITCH_EDGES, p.pitch_angle))
                pick[11] = {"grand": p.n_arms - 1, "many": 4, "flocculent": 5}[p.arm_pattern]
    pick[6] = 0 if p.odd_feature else 1  # a star/artifact ends the walk: Q6 "no" (sums to 1)
    if p.odd_feature:
        pick[8] = ODD_FEATURES.index(p.odd_feature)
    frac = np.zeros(len(tree.COLUMNS))
    for number, answer in pick.items():
        frac[_SLICES[number].start + answer] = 1.0
    return frac


def true_labels(p: GalaxyParams) -> np.ndarray:
    """The 37 cumulative columns a perfect, noise-free volunteer would give (one path)."""
    return tree.to_cumulative(true_fractions(p))


def _path_weights(probs: np.ndarray) -> np.ndarray:
    """Cumulative columns per skill level with Q6 and Q8 weighted by who reaches Q6."""
    raw = tree.to_cumulative(probs)
    reach6 = 1.0 - raw[:, _SLICES[1]][:, 2:3]
    raw[:, _SLICES[6]] *= reach6
    raw[:, _SLICES[8]] = probs[:, _SLICES[8]] * raw[:, _SLICES[6]][:, :1]
    return raw


def expected_labels(p: GalaxyParams, probs: np.ndarray | None = None) -> np.ndarray:
    """The infinite crowd's cumulative columns (Q6 renormalised to 1, as in the challenge).

    ``probs`` is :func:`answer_probabilities` of ``p`` when the caller already has it.
    """
    probs = answer_probabilities(p) if probs is None else probs
    mean = SKILL_WEIGHTS @ _path_weights(probs)
    reach6 = mean[_SLICES[6]].sum()
    mean[_SLICES[6]] /= reach6
    mean[_SLICES[8]] /= reach6
    return mean


def _topological_questions() -> list[int]:
    """Questions ordered so every question comes after all questions that lead to it."""
    incoming = {q.number: 0 for q in tree.QUESTIONS}
    for q in tree.QUESTIONS:
        for a in q.answers:
            if a.next_question is not None:
                incoming[a.next_question] += 1
    order, ready = [], [n for n, k in incoming.items() if k == 0]
    while ready:
        number = ready.pop(0)
        order.append(number)
        for a in tree.QUESTION_BY_NUMBER[number].answers:
            if a.next_question is not None:
                incoming[a.next_question] -= 1
                if incoming[a.next_question] == 0:
                    ready.append(a.next_question)
    return order


_WALK_ORDER = _topological_questions()
#: Question (0-10) and answer (0-6) of each of the 37 columns.
_COLUMN_QUESTION = np.zeros(len(tree.COLUMNS), dtype=int)
_COLUMN_ANSWER = np.zeros(len(tree.COLUMNS), dtype=int)
for _number, _cols in tree.question_slices():
    _COLUMN_QUESTION[_cols] = _number - 1
    _COLUMN_ANSWER[_cols] = np.arange(_cols.stop - _cols.start)
_N_ANSWERS = np.bincount(_COLUMN_QUESTION)
#: Cells of the (question, answer) grid a uniform is compared with: all answers but the last.
_INNER_ANSWER = np.arange(_N_ANSWERS.max() - 1) < (_N_ANSWERS - 1)[:, None]
#: The columns whose answer leads to each question that has a parent.
_LEADS_TO = {
    n: np.array(
        [
            _SLICES[q.number].start + k
            for q in tree.QUESTIONS
            for k, a in enumerate(q.answers)
            if a.next_question == n
        ]
    )
    for n in _WALK_ORDER
    if n != _WALK_ORDER[0]
}


def vote(
    p: GalaxyParams, rng: np.random.Generator, n_volunteers: int, probs: np.ndarray | None = None
) -> np.ndarray:
    """Cumulative columns from ``n_volunteers`` simulated volunteers walking the tree.

    Every volunteer answers every question (one uniform each, against the answers' cumulative
    probabilities at their skill); only the questions on their path are counted.
    """
    probs = answer_probabilities(p) if probs is None else probs
    level = pick(rng, _SKILL_CDF, n_volunteers)
    uniforms = rng.random((n_volunteers, len(tree.QUESTIONS)))
    grid = np.zeros((n_volunteers, len(tree.QUESTIONS), _N_ANSWERS.max()))
    grid[:, _COLUMN_QUESTION, _COLUMN_ANSWER] = probs[level]
    cdf = np.cumsum(grid, axis=2)[:, :, :-1]
    answers = ((uniforms[:, :, None] > cdf) & _INNER_ANSWER).sum(axis=2)
    chosen = answers[:, _COLUMN_QUESTION] == _COLUMN_ANSWER  # (volunteers, 37)
    arrived = np.zeros((n_volunteers, len(tree.QUESTIONS)), dtype=bool)
    arrived[:, _WALK_ORDER[0] - 1] = True
    for number, cols in _LEADS_TO.items():  # in walk order: parents before children
        arrived[:, number - 1] = (chosen[:, cols] & arrived[:, _COLUMN_QUESTION[cols]]).any(1)
    counts = (chosen & arrived[:, _COLUMN_QUESTION]).sum(axis=0)
    reached = arrived.sum(axis=0)[_COLUMN_QUESTION]
    frac = np.divide(counts, reached, out=np.zeros(len(tree.COLUMNS)), where=reached > 0)
    if not arrived[:, 6 - 1].any():  # nobody reached "anything odd?" (Q6): nothing odd
        frac[_SLICES[6]] = [0.0, 1.0]
    return tree.to_cumulative(frac)


def round_tree(values: np.ndarray, decimals: int = 6) -> np.ndarray:
    """Round (N, 37) cumulative columns to integers of 10**-decimals that obey the tree exactly.

    Each question's answers are rounded by largest remainder so they sum to their parent's
    rounded value (1 for Q1 and Q6): a table written with ``decimals`` places then passes
    :func:`galaxylab.tree.check` at any tolerance above float error.
    """
    cum = np.atleast_2d(np.asarray(values, dtype=np.float64))
    unit = 10**decimals
    out = np.zeros(cum.shape, dtype=np.int64)
    rows = np.arange(len(cum))
    for number in tree.EVALUATION_ORDER:
        cols = _SLICES[number]
        parent = tree.parent_index(number)
        target = np.full(len(cum), unit, dtype=np.int64) if parent is None else out[:, parent]
        block = np.clip(cum[:, cols], 0.0, None)
        total = block.sum(axis=1, keepdims=True)
        share = np.where(total > 0, block / np.where(total > 0, total, 1.0), 0.0)
        raw = share * target[:, None]
        low = np.floor(raw).astype(np.int64)
        missing = target - low.sum(axis=1)
        order = np.argsort(-(raw - low), axis=1, kind="stable")
        for k in range(cols.stop - cols.start):
            give = missing > k
            low[rows[give], order[give, k]] += 1
        out[:, cols] = low
    return out
