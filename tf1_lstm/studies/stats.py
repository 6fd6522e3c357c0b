"""Summaries of a handful of seeds: mean, spread and 95% intervals, with no SciPy."""

import collections
import math

import numpy as np

# Two-sided 95% Student t quantiles t(0.975, df), df = 1..30 (standard table values).
STUDENT_T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042)


def describe(values):
    """Mean, sample std, min, max and a 95% t interval of the mean."""
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    t = STUDENT_T_975[min(n - 1, len(STUDENT_T_975)) - 1] if n > 1 else float("nan")
    half = t * std / math.sqrt(n)
    mean = float(x.mean())
    return collections.OrderedDict([
        ("n", n), ("mean", mean), ("std", std), ("min", float(x.min())), ("max", float(x.max())),
        # An accuracy cannot leave [0, 1]: the interval is clipped there.
        ("ci95", [max(0.0, mean - half), min(1.0, mean + half)] if n > 1 else None)])


def wilson(successes, n, z=1.96):
    """The Wilson score 95% interval of a proportion: sound at 0 or n successes, unlike p±z·se."""
    if n == 0:
        return [0.0, 1.0]
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / denominator
    return [max(0.0, centre - half), min(1.0, centre + half)]
