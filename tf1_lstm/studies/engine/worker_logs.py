"""Preloaded into each worker of the embedded cluster, whose log lines reach the report's own
stderr: its libraries' logs are muted there, as the client's are (engine.Engine), so a report
ends in its own lines only. One such log is distributed 2021.3.0's: a worker's heartbeat raises
KeyError for a task released while its thread is still stopping its run, which is how a stopped
study ends its runs, and tornado logs that traceback."""

import logging

for name in ["distributed", "tornado"] + list(logging.root.manager.loggerDict):
    if name.startswith(("distributed", "tornado")):
        logging.getLogger(name).setLevel(logging.CRITICAL)
