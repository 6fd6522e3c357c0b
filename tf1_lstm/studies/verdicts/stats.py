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


def t975(df):
    """The two-sided 95% Student t quantile at `df` degrees of freedom (rounded down: the wider
    interval); the normal 1.96 beyond the table."""
    if df < 1:
        return float("nan")
    whole = int(math.floor(df))
    return STUDENT_T_975[whole - 1] if whole <= len(STUDENT_T_975) else 1.96


def welch(a, b):
    """Mean of b minus mean of a (accuracies), its Welch 95% interval and degrees of freedom
    (None where a side has fewer than 2 values; a zero-width interval where neither side has
    spread)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = float(y.mean() - x.mean()) if x.size and y.size else None
    if x.size < 2 or y.size < 2:
        return collections.OrderedDict([("difference", diff), ("ci95", None), ("df", None)])
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(va + vb)
    if se == 0:
        return collections.OrderedDict([("difference", diff), ("ci95", [diff, diff]),
                                        ("df", None)])
    df = (va + vb) ** 2 / (va ** 2 / (x.size - 1) + vb ** 2 / (y.size - 1))
    half = t975(df) * se
    # A difference of two accuracies cannot leave [-1, 1]: the interval is clipped there.
    return collections.OrderedDict([("difference", diff),
                                    ("ci95", [max(-1.0, diff - half), min(1.0, diff + half)]),
                                    ("df", df)])
