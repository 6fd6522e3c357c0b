"""Fetching a missing data file from a mirror: into a temp file, verified, then renamed.

Every attempt has a stall timeout (no byte for that long) and an overall deadline per file, both
settable through the environment; a mirror that stalls is not asked for the other files; the
temp `.part` file is removed on every way out, Ctrl-C included.
"""

import os
import socket
import sys
import tempfile
import time
from typing import Any, List, Sequence, Set

from tf1_lstm.core.idx import DataError, load_idx
from tf1_lstm.util import interrupts
from tf1_lstm.util.files import remove_quietly

DEADLINE_ENV = "TF1_LSTM_FETCH_DEADLINE"  # seconds one file may take in all (default 300)
STALL_ENV = "TF1_LSTM_FETCH_STALL"        # seconds without a byte before giving up (default 30)


def _seconds(env, default):
    try:
        value = float(os.environ.get(env, default))
    except ValueError:
        raise DataError("$%s=%r is not a number of seconds: set it to one (e.g. %s) or unset it"
                        % (env, os.environ[env], default))
    if not 0 < value < float("inf"):
        raise DataError("$%s=%r must be a positive number of seconds: set it to one (e.g. %s) "
                        "or unset it" % (env, os.environ[env], default))
    return value


def check_environment() -> None:
    """Raise DataError, once and at the start, if a fetch setting in the environment is bad."""
    _seconds(DEADLINE_ENV, 300)
    _seconds(STALL_ENV, 30)


def mirror_list(dataset: Any, extra: Sequence[str] = ()) -> List[str]:
    """User mirrors (flags, then the environment variable) before the public ones."""
    env = os.environ.get(dataset.mirror_env, "")
    return [m for m in list(extra) + env.split() if m] + list(dataset.mirrors)


def is_url(mirror: str) -> bool:
    return "://" in mirror


class Unwritable(DataError):
    """The data folder cannot take the file: no mirror can help, so say so at once."""


class Stalled(Exception):
    """A mirror that stopped sending: not asked again for the other files."""


def _copy(src, dst, total, label, deadline):
    """Copy in chunks, with a progress bar when stderr is a terminal."""
    from tqdm import tqdm
    read = getattr(src, "read1", src.read)  # read1: one recv at most, so a trickle is seen
    with tqdm(total=total or None, unit="B", unit_scale=True, desc=label, leave=False,
              disable=None, file=sys.stderr) as bar:
        while True:
            interrupts.check()
            if time.time() > deadline[0]:
                raise Stalled("took longer than the %.0f s deadline ($%s)"
                              % (deadline[1], DEADLINE_ENV))
            try:
                chunk = read(1 << 16)
            except socket.timeout:
                raise Stalled("sent nothing for %.0f s ($%s)"
                              % (_seconds(STALL_ENV, 30), STALL_ENV))
            if not chunk:
                return
            dst.write(chunk)
            bar.update(len(chunk))


def _download(mirror, filename, dst):
    """Copy mirror/filename into the open file dst; raise on any failure."""
    total_limit = _seconds(DEADLINE_ENV, 300)
    deadline = (time.time() + total_limit, total_limit)
    if not is_url(mirror):
        path = os.path.join(mirror, filename)
        with open(path, "rb") as src:
            _copy(src, dst, os.path.getsize(path), filename, deadline)
        return
    from urllib.request import urlopen
    url = mirror.rstrip("/") + "/" + filename
    try:
        response = urlopen(url, timeout=_seconds(STALL_ENV, 30))
    except socket.timeout:
        raise Stalled("did not answer within %.0f s ($%s)" % (_seconds(STALL_ENV, 30), STALL_ENV))
    try:
        _copy(response, dst, int(response.headers.get("Content-Length") or 0), filename,
              deadline)
    finally:
        response.close()


def _candidates(name, mirror):
    """The file names to try on a mirror: gzip first; a folder may also hold the raw file."""
    if is_url(mirror):
        return [name + ".gz"]  # the public mirrors serve gzip only
    return [f for f in (name + ".gz", name) if os.path.isfile(os.path.join(mirror, f))]


def fetch(name: str, spec: Any, data_dir: str, mirrors: Sequence[str], dataset: Any,
          stalled: Set[str]) -> str:
    """Fetch one file into data_dir from the first mirror with a verified copy; return its path.

    `stalled` is the set of mirrors that stopped answering; it grows as they do.
    """
    errors = []
    for mirror in mirrors:
        if mirror in stalled:
            continue
        files = _candidates(name, mirror)
        if not files:
            errors.append("%s: no %s there" % (mirror, name))
            continue
        filename = files[0]
        tmp = None
        try:
            with interrupts.deferred():  # a Ctrl-C lands once the temp file's name is known
                fd, tmp = _temp_file(filename, data_dir, dataset)
            with os.fdopen(fd, "wb") as dst:
                _download(mirror, filename, dst)
            load_idx(tmp, spec, dataset, shown_as=mirror.rstrip("/") + "/" + filename)
            final = os.path.join(data_dir, filename)
            os.replace(tmp, final)
            print("Fetched %s from %s" % (filename, mirror), file=sys.stderr)
            return final
        except Unwritable:
            raise  # no mirror can help
        except Stalled as err:
            stalled.add(mirror)
            errors.append("%s: %s" % (mirror, err))
        except Exception as err:  # any other failure means: try the next mirror
            interrupts.check()  # unless a Ctrl-C came first and a library turned it into this
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            errors.append("%s: %s" % (mirror, message))
        finally:
            if tmp:
                with interrupts.deferred():  # a second Ctrl-C waits until it is gone
                    remove_quietly(tmp)  # after a rename this is a no-op
    raise DataError("could not fetch %s (%s)" % (name, "; ".join(errors)))


def _temp_file(filename, data_dir, dataset):
    try:
        return tempfile.mkstemp(prefix="." + filename + ".", suffix=".part", dir=data_dir)
    except OSError as err:
        raise Unwritable("%s is missing from %s, which cannot be written to (%s): make it "
                         "writable, copy the %s files there, or pass another --data-dir"
                         % (filename, data_dir, err.strerror, dataset.title))
