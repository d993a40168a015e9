"""Developer logs off the terminal: what Prefect and Ray print goes to a file under the data dir."""
from __future__ import annotations

import sys
from pathlib import Path

#: Libraries whose log lines are for developers (Prefect's INFO lines and doc links, Ray's
#: SIGTERM-handler and token notices): the commands that run flows send them to a log file.
LIBRARY_LOGGERS = ("prefect", "ray")


def library_logs_to_file(path: Path) -> Path:
    """Send every Prefect and Ray log line to ``path`` instead of the terminal; the user sees
    gaitlake's own lines (progress, summary, one-sentence errors) and other warnings.

    Both libraries set up console handlers when imported (so they are imported first), and
    ``ray.init(configure_logging=False)`` clears the "ray" logger's handlers later, which
    would hand its warnings to logging's last-resort stderr handler: the routing therefore
    lives on the root logger, which Ray leaves alone."""
    import logging

    import prefect  # noqa: F401 - configures its loggers
    import ray  # noqa: F401 - configures its loggers

    def from_library(record: logging.LogRecord) -> bool:
        return record.name.split(".")[0] in LIBRARY_LOGGERS

    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.set_name("gaitlake-library-logs")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    to_file.addFilter(from_library)
    others = logging.StreamHandler(sys.stderr)  # what the last-resort handler did for everything else
    others.setLevel(logging.WARNING)
    others.addFilter(lambda record: not from_library(record))
    for name in [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] in LIBRARY_LOGGERS]:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            console = isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
            if console or handler.get_name() == "gaitlake-library-logs":
                logger.removeHandler(handler)
        if not logger.propagate and name.count(".") and to_file not in logger.handlers:
            logger.addHandler(to_file)  # Prefect's run loggers do not propagate
        if name in LIBRARY_LOGGERS:
            logger.propagate = True
    for handler in [h for h in logging.root.handlers if h.get_name() == "gaitlake-library-logs"]:
        logging.root.removeHandler(handler)  # an earlier call in this process (tests call main() again)
        handler.close()
    others.set_name("gaitlake-library-logs")
    for handler in (to_file, others):
        logging.root.addHandler(handler)
    return path
