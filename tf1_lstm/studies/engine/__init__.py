"""Many training runs on Dask distributed: an embedded local cluster, SLURM jobs, or any cluster
by address (clusters/, one module per kind).

A task trains one run in a process of its own (so TF's graph, thread pools and signals stay
per run) in a temp directory on its worker; that process gets the run as one task record and
answers with one result record (worker). The task sends back the run directory without its
step checkpoints; the client checks it and writes it under <out>/runs/<name>/ atomically
(store). Nothing travels through a shared filesystem. A finished run with the wanted settings
is reused, so a study interrupted at any point resumes by asking for the same runs again
(orchestrate). What a study asks for is a RunSpec (spec); the Engine is the client on the
cluster (client).
"""

from tf1_lstm.studies.engine.client import Engine
from tf1_lstm.studies.engine.clusters.local import check_jobs
from tf1_lstm.studies.engine.orchestrate import Outcome, run_all, to_train, unfinished
from tf1_lstm.studies.engine.spec import RunError, RunSpec, env_name, named, repeated, spec
from tf1_lstm.studies.engine.store import (MARKER, checked_result, finished, no_links, reusable,
                                           same_settings, trained_in)
from tf1_lstm.studies.engine.worker import task, task_command

__all__ = ["Engine", "check_jobs", "Outcome", "run_all", "to_train", "unfinished", "RunError",
           "RunSpec", "env_name", "named", "repeated", "spec", "MARKER", "checked_result",
           "finished", "no_links", "reusable", "same_settings", "trained_in", "task",
           "task_command"]
