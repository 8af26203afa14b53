"""A fixed mmap threshold for glibc's malloc, so that a long-running process gives big buffers back.

glibc raises its mmap threshold each time a large block is freed (up to 32 MiB); after that, page images,
OCR tensors and embedding batches (megabytes each) are carved from the heap, which fragments and is never
returned. Measured with bench/mixed_corpus.py's files in one process: resident memory climbed to 2.0 GiB over
the scanned pages and images (peak 2.5 GiB); with the threshold fixed at 128 KiB it stayed at 0.7 GiB (peak
1.3 GiB), at the same speed.
"""

from __future__ import annotations

import ctypes

_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
_THRESHOLD = 128 * 1024  # glibc's own starting value, kept from now on


def keep_mmap_threshold() -> bool:
    """Fix the threshold (idempotent); False where the C library is not glibc."""
    try:
        # The running process's own symbols: its C library, without find_library's subprocess.
        return bool(ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, _THRESHOLD))
    except (OSError, AttributeError, TypeError):
        return False
