"""What a run's bits depend on beyond its settings, recorded with every run.

A CPU is what CPUID tells the math libraries, not its model name: TF 1.15's MKL-DNN sgemm runs
another JIT kernel without AVX-512 and sizes its blocks from the L1d size CPUID reports (a
hypervisor chooses it: one model can differ, two models can agree), Eigen's float sqrt uses
the vendor's approximate reciprocal square root, thread pools change the order of sums, and
another TensorFlow build or oneDNN setting runs other kernels.
"""

import collections
import os
from typing import List, NamedTuple, Optional, Tuple

from tf1_lstm.core import tfcompat
from tf1_lstm.util import cpuid, environment, present, tfenvs

TF1, TF2, TORCH, KERAS = "TF 1.x", "TF 2", "PyTorch", "Keras"  # what reads a factor
TF = (TF1, TF2)
POSTS = (TORCH, KERAS)  # a sister post's framework
EVERY = TF + POSTS


class Factor(NamedTuple):
    """One thing a run's bits may depend on beyond its settings."""
    field: str                  # its key in a run's fingerprint
    name: str                   # how a difference in it is named
    read_by: Tuple[str, ...]    # the runs it acts in: TF 1.x, TF 2, or a post's framework
    variable: Optional[str] = None  # the environment variable it is (unset is a value: None)


# An environment variable that changes a framework's kernels, arithmetic or threads is a row
# with its variable; TensorFlow 1.15.5's numbers do not move with them (measured). Every run
# records every row its own process can read. The order is the order they are explained.
FACTORS = (
    Factor("framework", "framework", POSTS),
    Factor("version", "framework version", POSTS),
    Factor("git", "framework build", POSTS),
    Factor("cpu_capability", "PyTorch's CPU kernels (cpu_capability)", (TORCH,)),
    Factor("kernel_path", "sgemm kernel path", TF),
    Factor("l1d_kib", "L1d size (CPUID)", EVERY),
    Factor("l2_kib", "L2 size (CPUID)", EVERY),
    Factor("l3_kib", "L3 size (CPUID)", EVERY),
    Factor("cpu_vendor", "CPU vendor", EVERY),
    Factor("family_model_stepping", "CPU model (family/model/stepping)", EVERY),
    Factor("emulated", "emulated CPU", TF),
    Factor("intra_op_threads", "intra-op threads", TF),
    Factor("inter_op_threads", "inter-op threads", TF),
    Factor("threads", "threads", POSTS),
    Factor("tensorflow", "TensorFlow version", TF + (KERAS,)),
    Factor("tensorflow_git", "TensorFlow build", TF),
    Factor("onednn", "oneDNN kernels", (TF2,)),
    Factor("onednn_max_cpu_isa", "ONEDNN_MAX_CPU_ISA", (TF2,) + POSTS, "ONEDNN_MAX_CPU_ISA"),
    Factor("mkl_cbwr", "MKL_CBWR", (TF2,) + POSTS, "MKL_CBWR"),
    Factor("tf_enable_onednn_opts", "TF_ENABLE_ONEDNN_OPTS", (KERAS,),  # TF 2's own runs:
           "TF_ENABLE_ONEDNN_OPTS"),                                   # its effect is onednn
    Factor("aten_cpu_capability", "ATEN_CPU_CAPABILITY", (TORCH,), "ATEN_CPU_CAPABILITY"),
    Factor("omp_num_threads", "OMP_NUM_THREADS", (TORCH,), "OMP_NUM_THREADS"),
    Factor("mkl_num_threads", "MKL_NUM_THREADS", (TORCH,), "MKL_NUM_THREADS"),
    Factor("python", "Python version", EVERY),
    Factor("numpy", "NumPy version", TF),
)


def acting(reader: str) -> List[Tuple[str, str]]:
    """(field, name) of the factors that act in a run of `reader` (TF1, TF2, TORCH, KERAS)."""
    return [(f.field, f.name) for f in FACTORS if reader in f.read_by]


def may_be_none(field: str) -> bool:
    """Is None a value of this factor (an unset variable), not a reading that failed?"""
    return any(f.field == field and f.variable for f in FACTORS)


def variables():
    """{field: value or None (unset)} of every environment variable row in this process."""
    return collections.OrderedDict((f.field, os.environ.get(f.variable)) for f in FACTORS
                                   if f.variable)


# Also recorded, as context: the environment's name, the CPU's brand string, whether it runs
# under a hypervisor, the container image (a container changes the numbers only through the
# factors above), and cache sizes presented to CPUID (util.present).


def of_this_process(threads):
    """This process's fingerprint for a run capped at `threads` (None: TF's default pools, one
    thread per core)."""
    cpu = cpuid.read() or {}
    caches = cpu.get("caches") or {}
    versions = environment.versions()
    proc_model = environment.cpu_model()
    pools = threads or environment.schedulable_cpus()
    return collections.OrderedDict([
        ("kernel_path", cpu.get("kernel_path")),
        ("l1d_kib", caches.get("L1d")), ("l2_kib", caches.get("L2")),
        ("l3_kib", caches.get("L3")),
        ("cpu_vendor", cpu.get("vendor")),
        ("family_model_stepping", cpu.get("family_model_stepping")),
        # CPUID describes another CPU than the kernel's /proc/cpuinfo: an emulator (qemu-user)
        ("emulated", bool(cpu) and _fms_of_proc() != cpu.get("family_model_stepping")),
        ("intra_op_threads", pools), ("inter_op_threads", pools),
        ("tensorflow", versions["tensorflow"]), ("tensorflow_git", versions["tensorflow_git"]),
        ("onednn", tfcompat.recorded()["onednn"]),
    ] + list(variables().items()) + [
        ("python", versions["python"]), ("numpy", versions["numpy"]),
        ("environment", tfenvs.name(versions["tensorflow"])),
        ("cpu_brand", cpu.get("brand") or proc_model),
        ("hypervisor", cpu.get("hypervisor")),
        ("container_image", os.environ.get(environment.IMAGE_ENV)),
        # cache sizes presented to CPUID (util.present): the sizes above are these
        ("cpuid_presented", os.environ.get(present.CACHES_ENV) or None),
    ])


def _fms_of_proc():
    fms = environment.cpu_id()["family_model_stepping"]
    return None if "?" in fms else fms
