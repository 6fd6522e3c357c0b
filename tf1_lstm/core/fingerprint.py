"""What a run's bits depend on beyond its settings, recorded with every run.

The same CPU model on another host counts as equal. Where one differs, other numbers are
expected: TF 1.15's MKL-DNN sgemm runs another JIT kernel without AVX-512, Eigen's float sqrt
uses the CPU's approximate reciprocal square root, thread pools change the order of sums, and
another TensorFlow build or oneDNN setting runs other kernels.
"""

import collections
import os

from tf1_lstm.core import tfcompat
from tf1_lstm.util import cpuid, environment, tfenvs

# (field, how a difference in it is named), in the order they are explained.
FACTORS = (
    ("kernel_path", "sgemm kernel path"),
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
# Also recorded, as context: the environment's name, the CPU's brand string, whether it runs
# under a hypervisor, and the container image (a container changes the numbers only through
# the factors above).


def of_this_process(threads):
    """This process's fingerprint for a run capped at `threads` (None: TF's default pools, one
    thread per core)."""
    cpu = cpuid.read() or {}
    versions = environment.versions()
    proc_model = environment.cpu_model()
    pools = threads or os.cpu_count()
    return collections.OrderedDict([
        ("kernel_path", cpu.get("kernel_path")),
        ("cpu_vendor", cpu.get("vendor")),
        ("family_model_stepping", cpu.get("family_model_stepping")),
        # CPUID describes another CPU than the kernel's /proc/cpuinfo: an emulator (qemu-user)
        ("emulated", bool(cpu) and _fms_of_proc() != cpu.get("family_model_stepping")),
        ("intra_op_threads", pools), ("inter_op_threads", pools),
        ("tensorflow", versions["tensorflow"]), ("tensorflow_git", versions["tensorflow_git"]),
        ("onednn", tfcompat.recorded()["onednn"]),
        ("onednn_max_cpu_isa", os.environ.get("ONEDNN_MAX_CPU_ISA")),
        ("mkl_cbwr", os.environ.get("MKL_CBWR")),
        ("python", versions["python"]), ("numpy", versions["numpy"]),
        ("environment", tfenvs.name(versions["tensorflow"])),
        ("cpu_brand", cpu.get("brand") or proc_model),
        ("hypervisor", cpu.get("hypervisor")),
        ("container_image", os.environ.get(environment.IMAGE_ENV)),
    ])


def _fms_of_proc():
    fms = environment.cpu_id()["family_model_stepping"]
    return None if "?" in fms else fms


def differences(recorded, measured):
    """[(name of the factor, recorded value, measured value)] for every factor that differs;
    a factor one side did not record counts as unknown, not as a difference."""
    return [(name, recorded.get(key), measured.get(key)) for key, name in FACTORS
            if key in recorded and key in measured and recorded[key] != measured[key]]


def unknown(recorded, measured):
    """The names of the factors one side did not record."""
    return [name for key, name in FACTORS if key not in recorded or key not in measured]
