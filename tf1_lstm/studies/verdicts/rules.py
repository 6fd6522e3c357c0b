"""One definition each of what a run's test accuracy says, shared by every verdict.

The claims table, the ablation findings and the 99% explanations all judge "did it train?"
with these, so a run is never "trained" in one section and "at chance" in another.
"""

CLAIMED_TEST_ACCURACY = 0.99  # the post: "实验表明求得得准确率可达到99%"
LEARNED_AT_LEAST = 0.5   # test accuracy at or above this: the run learned the task
CHANCE_MARGIN = 0.10     # within this of chance level: the run did not learn
ROUNDS_TO_99 = 0.985     # what a reader rounds to "99%"


def learned(accuracy):
    return accuracy >= LEARNED_AT_LEAST


def at_chance(accuracy, chance):
    return accuracy <= chance + CHANCE_MARGIN


def outcome(accuracy, chance):
    """'at chance', 'learned', or 'in between' for one run."""
    if at_chance(accuracy, chance):
        return "at chance"
    return "learned" if learned(accuracy) else "in between"
