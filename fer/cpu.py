"""What this machine's CPU can do, from /proc/cpuinfo (no TensorFlow): whether bfloat16 is native here."""
from __future__ import annotations

import os
import re
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# oneDNN's ISA caps (ONEDNN_MAX_CPU_ISA) at or above the first with bfloat16 instructions; a lower cap, such as
# AVX2, makes TensorFlow compute as an AVX2-only CPU does, and bfloat16 is emulated there.
BFLOAT16_ISA_CAPS = {"AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX10_1_512", "AVX512_CORE_AMX", "AVX10_1_512_AMX",
                     "AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX_FP16", "ALL", "DEFAULT", ""}


def cpuinfo() -> str:
    """The text of /proc/cpuinfo, empty where there is none (not Linux)."""
    try:
        return CPUINFO.read_text()
    except OSError:
        return ""


def has_native_bfloat16(flags: str | None = None, isa_cap: str | None = None) -> bool:
    """Whether the CPU flags (default: this machine's) name AVX512-BF16 or AMX-BF16, the instructions that make
    bfloat16 fast, and oneDNN's ISA cap (default: ``ONEDNN_MAX_CPU_ISA``) lets TensorFlow use them; elsewhere
    bfloat16 is emulated, and slower than float32."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "") if isa_cap is None else isa_cap
    if cap.strip().upper() not in BFLOAT16_ISA_CAPS:
        return False
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", cpuinfo() if flags is None else flags) is not None


def training_precision(setting: str, flags: str | None = None) -> str:
    """``train.precision`` as Keras names it: ``auto`` is mixed_bfloat16 where bfloat16 is native, else float32."""
    if setting != "auto":
        return setting
    return "mixed_bfloat16" if has_native_bfloat16(flags) else "float32"


def has_amx(flags: str | None = None) -> bool:
    """Whether the CPU has AMX-BF16 tiles (and oneDNN may use them), where bfloat16 runs faster than int8."""
    return has_native_bfloat16(flags) and re.search(r"\bamx_bf16\b", cpuinfo() if flags is None else flags) is not None


def describe_cpu() -> str:
    """What a speed figure was measured on: cores, the vector flags that matter, and any ISA cap in force, e.g.
    "2 cores, avx2 avx512_bf16 avx512_vnni avx512f; ONEDNN_MAX_CPU_ISA=AVX2"."""
    flags = sorted(set(re.findall(r"\b(avx2|avx512f|avx512_vnni|avx512_bf16|amx_bf16)\b", cpuinfo())))
    caps = [f"{name}={os.environ[name]}" for name in ("ONEDNN_MAX_CPU_ISA", "OPENCV_CPU_DISABLE") if os.environ.get(name)]
    return f"{len(os.sched_getaffinity(0))} cores, {' '.join(flags) or 'no AVX2'}" + (f"; {' '.join(caps)}" if caps else "")
