"""The optional parts of a report, one entry each.

`tf1-lstm report` and its flags loop over SECTIONS: a section brings its flags, the runs it
adds to the report's plan (each derived from the report's base spec, so every report-wide
setting reaches it), the summary it writes under its key in report.json, its markdown and its
figures. A new section is one entry here (plus its own module). The report's own parts (claims,
runs, determinism, throughput, what the runs ran on) are not optional and live in report.py.
"""

import collections
import os
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from tf1_lstm.core import records
from tf1_lstm.studies import engine
from tf1_lstm.studies.sections import ablation, explain, path, posts, tf_versions


class Finished(NamedTuple):
    """What a section summarises: the report's finished runs and their context."""
    out: str                 # the report directory (runs/ under it)
    base: Any                # engine.RunSpec every run of the report was derived from
    seeds: List[int]         # the report's seeds
    cells: Tuple[str, ...]   # the report's faithful cells
    envs: Tuple[Optional[str], ...]  # its TensorFlow environments, the reference first
    results: Dict[str, Any]  # {run name: metrics.json} of every run: look one up with metrics()
    chance: Dict[str, Any]   # the test set's chance level (report.chance_level)
    data_dir: Optional[str]  # the --data-dir the runs read (None: the default)

    def metrics(self, spec):
        """metrics.json of the finished run of RunSpec `spec`."""
        return self.results[spec.name]

    def seal(self, name):
        """The seal of the finished run `name` (checked when it was stored or reused)."""
        return records.seal_of(os.path.join(self.out, "runs", name))

    def faithful(self, env=None):
        """{cell: [metrics per seed]} of the faithful runs in environment `env` (default: the
        reference, the first of envs)."""
        env = self.envs[0] if env is None else env
        return collections.OrderedDict(
            (c, [self.metrics(engine.named(self.base, c, s, env=env)) for s in self.seeds])
            for c in self.cells)


class Section(NamedTuple):
    """One optional part of a report."""
    key: str                 # its key in report.json (None there when it was not asked for)
    flags: Tuple[Tuple[str, Dict[str, Any]], ...]  # its `report` flags: (name, argparse's
    #                          keyword arguments) each
    options: Callable[[Any], Any]  # (parsed args) -> its options; None: not asked for
    plan: Callable[..., List[Any]]  # (base spec, its options, ReportOptions) -> the RunSpecs
    #                          it adds; engine.RunError if the report's settings cannot make it
    summarise: Callable[[Finished, Any], Dict[str, Any]]  # (finished, options) -> its summary
    render: Callable[[Dict[str, Any]], List[str]]  # summary -> report.md's lines
    plot: Callable[[Dict[str, Any], str], List[str]]  # (summary, out) -> the figure files it
    #                          wrote into out
    alone: str = ""          # its flag, if it cannot share a report with --tf ("": it can)
    runs: Optional[Callable[[Dict[str, Any], List[int]], List[Dict[str, Any]]]] = None
    #                          (summary, the report's seeds) -> a row per run it owns beyond
    #                          the report's own (cell, seed, run_dir, test_accuracy, seal),
    #                          which verify and compare check
    side_by_side: Optional[Callable[..., List[Tuple[str, Any, Any]]]] = None  # (summary A,
    #                          summary B, run_dirs not believed in A, in B) -> compare's
    #                          (label, A, B) rows; None for a side without the section
    measures_quoted: Optional[Callable[[Dict[str, Any]], str]] = None  # summary -> its title,
    #                          where it measures the figures report.md quotes from other posts


SECTIONS = (
    Section("explain_99", explain.FLAGS, explain.options, explain.plan, explain.summarise,
            explain.render, explain.plot, alone=explain.ALONE),
    Section("ablation", ablation.FLAGS, ablation.options, ablation.plan, ablation.summarise,
            ablation.render, ablation.plot, alone=ablation.ALONE),
    Section("posts", posts.FLAGS, posts.options, posts.plan, posts.summarise, posts.render,
            posts.plot, alone=posts.ALONE, runs=posts.runs, side_by_side=posts.side_by_side,
            measures_quoted=posts.title),
    Section("path", path.FLAGS, path.options, path.plan, path.summarise, path.render, path.plot,
            alone=path.ALONE, runs=path.runs),
    Section("tf_versions", tf_versions.FLAGS, tf_versions.options, tf_versions.plan,
            tf_versions.summarise, tf_versions.render, tf_versions.plot),
)
KEYS = tuple(s.key for s in SECTIONS)


def asked(options):
    """The sections a ReportOptions asks for, each with its options, in SECTIONS' order."""
    return [(s, options.sections[s.key]) for s in SECTIONS
            if options.sections.get(s.key) is not None]
