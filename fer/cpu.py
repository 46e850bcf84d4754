"""What this machine's CPU can do, from /proc/cpuinfo (no TensorFlow): whether bfloat16 is native here."""
from __future__ import annotations

import re
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def cpuinfo() -> str:
    """The text of /proc/cpuinfo, empty where there is none (not Linux)."""
    try:
        return CPUINFO.read_text()
    except OSError:
        return ""


def has_native_bfloat16(flags: str | None = None) -> bool:
    """Whether the CPU flags (default: this machine's) name AVX512-BF16 or AMX-BF16, the instructions that make
    bfloat16 fast; elsewhere it is emulated, and slower than float32."""
    return re.search(r"\b(avx512_bf16|amx_bf16)\b", cpuinfo() if flags is None else flags) is not None
