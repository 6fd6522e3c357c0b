"""The hook a study may hang on a training run (studies.tools.diagnose has one): ops added after the
post's graph is built, a look after each step, a last word. The base does nothing, so a run
without one is the post's program."""

from typing import Any, Optional


class Monitor:
    """Watches one training run; every method of the base is a no-op."""

    stop_status: Optional[str] = None  # metrics.json's status when after_step stops the run

    def build(self, model: Any) -> Any:
        """Add ops to the finished graph; return what each training step fetches."""
        return model.train_op

    def after_step(self, step: int, sess: Any, feed: dict, fetched: Any) -> Optional[str]:
        """Look at the step just taken; a reason (text) stops the run with stop_status."""
        return None

    def finish(self, run_dir: str, status: str) -> None:
        """The run has ended with `status`: write what was recorded into run_dir."""
