"""Numbers as a reader should see them in reports: one format per kind of quantity."""


def percent(fraction, digits=2):
    """0.97688 -> '97.69%'."""
    return "%.*f%%" % (digits, 100 * fraction)


def number(x, digits=2):
    """A ratio or norm: plain when it reads well, scientific when small, never a rounded 0."""
    if x is None:
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) < 10 ** -digits or abs(x) >= 1e6:
        return "%.*e" % (max(1, digits - 1), x)
    return "%.*g" % (digits, x)


WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def count(n):
    """A small count as a word in running text (5 -> 'five'); digits past ten."""
    return WORDS[n] if 0 <= n < len(WORDS) else str(n)
