"""What a run's bits depend on beyond its settings, recorded with every run.

A CPU is what CPUID tells the math libraries, not its model name: TF 1.15's MKL-DNN sgemm runs
another JIT kernel without AVX-512 and sizes its blocks from the L1d size CPUID reports (a
hypervisor chooses it: one model can differ, two models can agree), Eigen's float sqrt uses
the vendor's approximate reciprocal square root, thread pools change the order of sums, and
another TensorFlow build or oneDNN setting runs other kernels.
"""

import collections
import os

from tf1_lstm.core import tfcompat
from tf1_lstm.util import cpuid, environment, present, tfenvs

# (field, how a difference in it is named), in the order they are explained.
FACTORS = (
    ("kernel_path", "sgemm kernel path"),
    ("l1d_kib", "L1d size (CPUID)"),
    ("l2_kib", "L2 size (CPUID)"),
    ("l3_kib", "L3 size (CPUID)"),
    ("cpu_vendor", "CPU vendor"),
    ("family_model_stepping", "CPU model (family/model/stepping)"),
    ("emulated", "emulated CPU"),
    ("intra_op_threads", "intra-op threads"),
    ("inter_op_threads", "inter-op threads"),
    ("tensorflow", "TensorFlow version"),
    ("tensorflow_git", "TensorFlow build"),
    ("onednn", "oneDNN kernels"),
    ("onednn_max_cpu_isa", "ONEDNN_MAX_CPU_ISA"),
    ("mkl_cbwr", "MKL_CBWR"),
    ("python", "Python version"),
    ("numpy", "NumPy version"),
)
# Environment variables that change a framework's kernels, arithmetic or threads: (field,
# variable, the frameworks that read it: "tf2" for TensorFlow 2, or a sister post's framework).
# TensorFlow 1.15.5's numbers do not move with them (measured); each run records every one.
VARIABLES = (
    ("onednn_max_cpu_isa", "ONEDNN_MAX_CPU_ISA", ("tf2", "PyTorch", "Keras")),
    ("mkl_cbwr", "MKL_CBWR", ("tf2", "PyTorch", "Keras")),
    ("tf_enable_onednn_opts", "TF_ENABLE_ONEDNN_OPTS", ("tf2", "Keras")),
    ("aten_cpu_capability", "ATEN_CPU_CAPABILITY", ("PyTorch",)),
    ("omp_num_threads", "OMP_NUM_THREADS", ("PyTorch",)),
    ("mkl_num_threads", "MKL_NUM_THREADS", ("PyTorch",)),
)


def variables():
    """{field: value or None (unset)} of every VARIABLES row in this process."""
    return collections.OrderedDict((field, os.environ.get(name)) for field, name, _ in VARIABLES)


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
