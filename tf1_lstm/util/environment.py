"""What a result was measured on: versions, hardware, code revision.

Kept light (no TF import unless asked) so that the CLI can record it cheaply.
"""

import collections
import os
import platform
import re
import subprocess
import sys

IMAGE_ENV = "TF1_LSTM_IMAGE"  # set by the project's Dockerfile to its image tag
IMAGE_BASE_ENV = "TF1_LSTM_IMAGE_BASE"  # ... and to the base it was built from
COMMIT_ENV = "TF1_LSTM_GIT_COMMIT"  # the image has no .git: its build passes the commit in


def _module_version(name):
    try:
        module = __import__(name)
    except Exception:  # a missing or broken module is a fact to record, not an error
        return None
    return getattr(module, "__version__", None)


def versions():
    import google.protobuf  # pinned <4: TF 1.15 does not import with protobuf 4
    import numpy
    import tensorflow as tf
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tensorflow_git": getattr(tf, "__git_version__", None),
        "numpy": numpy.__version__,
        "protobuf": google.protobuf.__version__,
    }


def cpu_model():
    return _cpuinfo().get("model name") or platform.processor() or None


def cpu_flags():
    """The CPU's flags as the kernel lists them (cpuid_fault among them where it can trap)."""
    return set(_cpuinfo().get("flags", "").split())


SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f")  # what math libraries dispatch on


def _cpuinfo():
    """/proc/cpuinfo's fields, each as it first appears ({} where there is none)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def _caches():
    """{"L1d": "32K", ...}: Eigen sizes its matmul blocks from these, so they can move the
    order of float sums, and seeded runs with them."""
    root, caches = "/sys/devices/system/cpu/cpu0/cache", {}
    for index in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        try:
            level, kind, size = (_read(os.path.join(root, index, name))
                                 for name in ("level", "type", "size"))
        except OSError:
            continue
        if kind != "Instruction":
            caches["L%s%s" % (level, "d" if kind == "Data" else "")] = size
    return caches


def _read(path):
    with open(path) as f:
        return f.read().strip()


def schedulable_cpus():
    """The CPUs this process may run on (taskset, a container's cpuset, a SLURM cgroup): TF
    sizes its default pools from these (port::NumSchedulableCPUs), not from the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def available_memory():
    """Bytes of memory available to new processes (MemAvailable), or None where unknown."""
    try:
        for line in _read("/proc/meminfo").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def cpu_id():
    """What tells two CPUs with the same model name apart. Seeded runs repeat exactly on one
    machine, not necessarily across these."""
    info = _cpuinfo()
    flags = cpu_flags()
    return collections.OrderedDict([
        ("family_model_stepping", "/".join(info.get(key, "?") for key in
                                           ("cpu family", "model", "stepping"))),
        ("caches", " ".join("%s %s" % item for item in sorted(_caches().items()))),
        ("simd", " ".join(flag for flag in SIMD_FLAGS if flag in flags))])


def checkout_root():
    """The folder holding the `tf1_lstm` package (a checkout, or site-packages when installed)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _git(*args):
    try:
        out = subprocess.check_output(("git",) + args, cwd=checkout_root(),
                                      stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.decode("utf-8", "replace").strip()


def git_revision():
    """The checkout's commit and whether it has uncommitted changes (None outside a checkout)."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        baked = os.environ.get(COMMIT_ENV)
        return {"commit": baked if baked and baked != "unknown" else None, "dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status)}


def command_line(argv=None):
    """How this process was invoked (or `argv`, a command it stands for), as typed."""
    argv = argv or sys.argv
    program = os.path.basename(argv[0]) if argv and argv[0] else "python"
    if program in ("__main__.py", "-m"):
        program = "tf1-lstm"
    return " ".join([program] + list(argv[1:]))


def machine(argv=None):
    """This machine, and the command (`argv`: default this process's) that runs on it."""
    return {
        "os": platform.platform(),
        "cpu": cpu_model(),
        "cpu_id": cpu_id(),
        "cores": os.cpu_count(),
        "container_image": os.environ.get(IMAGE_ENV),
        "container_base": os.environ.get(IMAGE_BASE_ENV),
        "gpus": gpus(),
        "command": command_line(argv),
    }


def pip_freeze():
    """Installed packages, one `name==version` per entry; an editable install (this package)
    as `tf1-lstm==<version> (editable, commit <sha>)`, never the path of its checkout."""
    from tf1_lstm import __version__
    try:
        out = subprocess.check_output([sys.executable, "-m", "pip", "freeze", "--all"],
                                      stderr=subprocess.DEVNULL, universal_newlines=True)
    except (OSError, subprocess.CalledProcessError):
        return []
    commit = (git_revision()["commit"] or "unknown")[:12]
    rows = []
    for line in out.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue  # pip's "# Editable install ..." comments name the checkout's path
        if line.startswith("-e "):
            line = "tf1-lstm==%s (editable, commit %s)" % (__version__, commit)
        elif " @ " in line:  # installed from a local path or URL: keep the name only
            line = "%s (from a local copy, commit %s)" % (line.split(" @ ")[0], commit)
        rows.append(line)
    return rows


GPU_FIELDS = ("name", "driver_version", "memory.total", "compute_cap")  # nvidia-smi's names


def _nvidia_smi(*args):
    try:
        done = subprocess.run(("nvidia-smi",) + args, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def gpus():
    """The NVIDIA GPUs the driver lists: model, driver, memory, compute capability, and the
    newest CUDA the driver runs; [] where there is no driver (as here)."""
    fields = GPU_FIELDS
    out = _nvidia_smi("--query-gpu=" + ",".join(fields), "--format=csv,noheader")
    if out is None:  # drivers before 510 lack compute_cap
        fields = GPU_FIELDS[:-1]
        out = _nvidia_smi("--query-gpu=" + ",".join(fields), "--format=csv,noheader")
    if not out:
        return []
    header = _nvidia_smi() or ""
    match = re.search(r"CUDA Version:\s*([\d.]+)", header)
    return [collections.OrderedDict(list(zip(fields, (v.strip() for v in line.split(","))))
                                    + [("driver_cuda", match.group(1) if match else None)])
            for line in out.strip().splitlines() if line.strip()]


def block(data_checksums, cuda):
    """Versions, CUDA (`cuda`: core.tfcompat.cuda()), machine, commit, the data's checksums and
    the installed packages: what a result may depend on, in one record (the environment block
    reports and bench write; a run's fingerprint is core.fingerprint's)."""
    return collections.OrderedDict([
        ("versions", versions()), ("cuda", cuda), ("machine", machine()),
        ("git", git_revision()), ("data_checksums", data_checksums),
        ("pip_freeze", pip_freeze())])
