"""Presenting other cache sizes to CPUID, for a process and everything it starts.

TF 1.15.5's sgemm blocking follows the L1d size CPUID reports, so a run made where a hypervisor
reported other sizes can be trained again here with those sizes: cpuid_present.c, built here
and loaded with LD_PRELOAD, answers CPUID leaf 4 with them through Linux's CPUID faulting. It
presents sizes, not a CPU: the vendor's approximate instructions stay this CPU's.
"""

import os
import platform
import shutil
import subprocess

from tf1_lstm.util import cpuid, environment
from tf1_lstm.util.errors import ToolError

CACHES_ENV = "TF1_LSTM_CPUID_CACHES"  # read by the shim: "L1d=32,L2=1024,L3=32768" (KiB)
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpuid_present.c")
LEVELS = ("L1d", "L2", "L3")


def unavailable():
    """Why cache sizes cannot be presented here (one line naming the fix), or None."""
    if platform.machine() != "x86_64" or not os.path.isfile(SOURCE):
        return "presenting cache sizes needs an x86-64 Linux machine and this package's C source"
    if "cpuid_fault" not in environment.cpu_flags():
        return ("this CPU or kernel has no CPUID faulting (no cpuid_fault in /proc/cpuinfo; "
                "a hypervisor may hide it): run without --present-caches")
    vendor = (cpuid.read() or {}).get("vendor")
    if cpuid.VENDORS.get(vendor) != "Intel":
        return ("cache sizes are presented through CPUID leaf 4, which TF's libraries read on "
                "Intel CPUs only (this one: %s): run without --present-caches" % vendor)
    if not compiler():
        return "no C compiler (cc or gcc) to build the CPUID shim: install gcc, or run without it"
    return None


def compiler():
    return shutil.which("cc") or shutil.which("gcc")


def build(folder):
    """The shim compiled into `folder` (which the caller removes); ToolError naming why not."""
    shim = os.path.join(folder, "cpuid_present.so")
    done = subprocess.run([compiler(), "-shared", "-fPIC", "-O2", "-o", shim, SOURCE],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    if done.returncode != 0:
        said = done.stdout.strip().splitlines() or ["exit %d" % done.returncode]
        raise ToolError("the CPUID shim did not build (%s): install gcc and the C library's "
                        "headers" % said[-1])
    return shim


def text(sizes):
    """{"L1d": 32, ...} (KiB) as the shim reads it."""
    return ",".join("%s=%d" % (level, sizes[level]) for level in LEVELS if sizes.get(level))


def environ(shim, sizes):
    """The variables under which a process (and its children) sees `sizes`."""
    preload = os.environ.get("LD_PRELOAD")
    return {"LD_PRELOAD": shim + (" " + preload if preload else ""), CACHES_ENV: text(sizes)}


def main(argv):
    """`python -m tf1_lstm.util.present L1d=32[,L2=..,L3=..] COMMAND ...`: COMMAND under those
    cache sizes (how the rows of docs/reproducibility.md were measured)."""
    import sys
    import tempfile
    if len(argv) < 2 or "=" not in argv[0]:
        sys.exit("usage: python -m tf1_lstm.util.present L1d=KIB[,L2=KIB,L3=KIB] COMMAND ...")
    why = unavailable()
    if why:
        sys.exit("present: " + why)
    sizes = dict((level, int(kib)) for level, _, kib in
                 (part.partition("=") for part in argv[0].split(",")))
    with tempfile.TemporaryDirectory(prefix="tf1-lstm-present-") as folder:
        env = dict(os.environ, **environ(build(folder), sizes))
        return subprocess.run(argv[1:], env=env).returncode


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
