"""The CPU as its CPUID instruction describes it to the math kernels.

TF 1.15's MKL-DNN sgemm picks its JIT kernel (AVX-512 or AVX) from CPUID and the OS's saved
register state (XGETBV), not from /proc/cpuinfo: an emulator such as qemu-user changes what CPUID
answers and leaves /proc/cpuinfo the host's. So the instruction itself is run, from a page of
machine code (x86-64 only; elsewhere, and where a page cannot be made executable, None).
"""

import ctypes
import mmap
import platform
import struct

# uint32 regs[4] <- cpuid(eax=leaf, ecx=subleaf), System V ABI (leaf: edi, subleaf: esi, regs:
# rdx): push rbx; mov eax,edi; mov ecx,esi; mov r8,rdx; cpuid; mov [r8],eax; mov [r8+4],ebx;
# mov [r8+8],ecx; mov [r8+12],edx; pop rbx; ret
_CPUID = bytes.fromhex("53" "89f8" "89f1" "4989d0" "0fa2" "418900" "41895804" "41894808"
                       "4189500c" "5b" "c3")
# uint32 regs[2] <- xgetbv(ecx=0): mov r8,rdi; xor ecx,ecx; xgetbv; mov [r8],eax; mov [r8+4],edx
_XGETBV = bytes.fromhex("4989f8" "31c9" "0f01d0" "418900" "41895004" "c3")

VENDORS = {"AuthenticAMD": "AMD", "GenuineIntel": "Intel"}  # CPUID's vendor id: its short name
AVX512_STATE = 0xE6  # XCR0: SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM saved by the OS
AVX_STATE = 0x06     # XCR0: SSE and AVX


class _Code:
    """Machine code in an executable page, callable through ctypes."""

    def __init__(self, code, *argtypes):
        self.page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE |
                              mmap.PROT_EXEC)
        self.page.write(code)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self.page))
        self.call = ctypes.CFUNCTYPE(None, *argtypes)(address)


_made = {}  # code -> its _Code: a page must outlive every call into it


_REGS = ctypes.POINTER(ctypes.c_uint32)


def _run(code, argtypes, *args):
    if code not in _made:
        _made[code] = _Code(code, *argtypes)
    _made[code].call(*args)


def _registers(leaf, subleaf=0):
    regs = (ctypes.c_uint32 * 4)()
    _run(_CPUID, (ctypes.c_uint32, ctypes.c_uint32, _REGS), leaf, subleaf, regs)
    return tuple(regs)  # eax, ebx, ecx, edx


def _xcr0():
    regs = (ctypes.c_uint32 * 2)()
    _run(_XGETBV, (_REGS,), regs)
    return regs[0] | regs[1] << 32


def _bit(value, n):
    return bool(value >> n & 1)


def read():
    """{vendor, brand, family_model_stepping, avx, avx2, avx512f, os_avx512, hypervisor,
    kernel_path, caches} from the instruction; None where it cannot be run here."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    try:
        top, b, c, d = _registers(0)
        vendor = struct.pack("<III", b, d, c).decode("ascii", "replace")
        eax, _, ecx, _ = _registers(1)
        leaf7 = _registers(7) if top >= 7 else (0, 0, 0, 0)
        xcr0 = _xcr0() if _bit(ecx, 27) else 0  # OSXSAVE: the OS exposes XGETBV
        brand = ""
        if _registers(0x80000000)[0] >= 0x80000004:
            brand = b"".join(struct.pack("<IIII", *_registers(leaf))
                             for leaf in (0x80000002, 0x80000003, 0x80000004))
            brand = brand.split(b"\0")[0].decode("ascii", "replace").strip()
        caches = _caches(vendor, top)
    except (OSError, ValueError, AttributeError):  # no executable page (a hardened kernel)
        return None
    described = _described(vendor, brand, eax, ecx, leaf7[1], xcr0)
    described["caches"] = caches
    return described


def _caches(vendor, top):
    """{"L1d": KiB, "L2": KiB, "L3": KiB} as CPUID reports them: the deterministic cache leaf
    (4 on Intel, 0x8000001D on AMD), which MKL-DNN's and Eigen's blocking read; a hypervisor
    chooses what it reports, so one CPU model can differ here and two models can agree."""
    leaf = 4 if top >= 4 else None
    if VENDORS.get(vendor) == "AMD":
        leaf = 0x8000001D if _registers(0x80000000)[0] >= 0x8000001D else None
    caches = {}
    for subleaf in range(16) if leaf else ():
        eax, ebx, ecx, _ = _registers(leaf, subleaf)
        kind, level = eax & 0x1F, eax >> 5 & 0x7
        if kind == 0:
            break
        if kind == 2:  # instruction cache
            continue
        size = ((ebx >> 22) + 1) * ((ebx >> 12 & 0x3FF) + 1) * ((ebx & 0xFFF) + 1) * (ecx + 1)
        caches["L%d%s" % (level, "d" if kind == 1 else "")] = size // 1024
    return caches


def _described(vendor, brand, eax, ecx, ebx7, xcr0):
    base_family, base_model = eax >> 8 & 0xF, eax >> 4 & 0xF
    family = base_family + (eax >> 20 & 0xFF if base_family == 0xF else 0)
    model = base_model + ((eax >> 16 & 0xF) << 4 if base_family in (0x6, 0xF) else 0)
    avx = _bit(ecx, 28) and xcr0 & AVX_STATE == AVX_STATE
    avx512f = _bit(ebx7, 16)
    os_avx512 = xcr0 & AVX512_STATE == AVX512_STATE
    return {"vendor": vendor, "brand": brand,
            "family_model_stepping": "%d/%d/%d" % (family, model, eax & 0xF),
            "avx": avx, "avx2": avx and _bit(ebx7, 5), "avx512f": avx512f,
            "os_avx512": os_avx512, "hypervisor": _bit(ecx, 31),
            "kernel_path": kernel_path(avx512f and os_avx512, avx)}


def kernel_path(avx512, avx):
    """The sgemm kernel MKL-DNN 0.x (TF 1.15) dispatches to on such a CPU."""
    return ("jit_avx512_common_gemm_f32" if avx512 else "jit_avx_gemm_f32" if avx
            else "reference gemm")
