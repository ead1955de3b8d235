# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""GIF's variable-width LZW for the animation writer (:mod:`kpalette.gif`).

Codes are ``min_code_size + 1`` bits wide after each clear code and grow by a bit
each time the decoder's table reaches a power of two, up to 12 bits; when the table
holds 4,096 entries a clear code starts it again. Codes are packed least significant
bit first. The string table is a hash of (prefix code, next index) pairs, open
addressing over a prime number of slots, cleared with the table. Tested against a
plain Python twin in ``tests/reference.py`` and decoded by Pillow.
"""

from libc.stdint cimport int32_t, uint8_t, uint32_t
from libc.string cimport memset

import numpy as np

cdef enum:
    MAX_CODES = 4096
    HASH_SLOTS = 5003  # a prime above MAX_CODES, so that probes stay short


cdef class _Bits:
    """An output of LSB-first codes: bytes go to a NumPy buffer that grows."""
    cdef uint8_t[::1] out
    cdef Py_ssize_t size
    cdef uint32_t pending
    cdef int n_pending

    def __cinit__(self, Py_ssize_t capacity):
        self.out = np.empty(max(capacity, 64), dtype=np.uint8)
        self.size = 0
        self.pending = 0
        self.n_pending = 0

    cdef inline void put(self, uint32_t code, int width):
        self.pending |= code << self.n_pending
        self.n_pending += width
        while self.n_pending >= 8:
            if self.size == self.out.shape[0]:
                self._grow()
            self.out[self.size] = self.pending & 0xFF
            self.size += 1
            self.pending >>= 8
            self.n_pending -= 8

    cdef void _grow(self):
        grown = np.empty(2 * self.out.shape[0], dtype=np.uint8)
        grown[: self.size] = self.out[: self.size]
        self.out = grown

    cdef bytes finish(self):
        if self.n_pending > 0:
            self.put(0, 8 - self.n_pending)
        return bytes(self.out[: self.size])


cdef inline int _width(int next_code) noexcept nogil:
    """The width in bits of the code written while ``next_code`` is the next free
    entry: that of ``next_code - 1``, the decoder's table size then (at most 12)."""
    cdef int width = 0
    cdef int value = next_code - 1
    while value > 0:
        width += 1
        value >>= 1
    return width if width < 12 else 12


def lzw_encode(const uint8_t[::1] indices, int min_code_size):
    """GIF LZW data of a frame's palette indices (the sub-blocks not yet cut).

    Parameters
    ----------
    indices : (n,) uint8 array, C-contiguous
        The frame's indices row by row, each below ``2 ** min_code_size``.
    min_code_size : int
        GIF's LZW minimum code size, 2 to 8 (the colour table's bits, at least 2).

    Returns
    -------
    bytes
        Clear code, the codes, end-of-information code, packed LSB first.
    """
    if not 2 <= min_code_size <= 8:
        raise ValueError(f"min_code_size must be 2 to 8, got {min_code_size}")
    cdef Py_ssize_t n = indices.shape[0]
    if n and int(np.asarray(indices).max()) >= (1 << min_code_size):
        raise ValueError(
            f"an index is {int(np.asarray(indices).max())}, not below 2 ** {min_code_size}"
        )
    cdef int clear = 1 << min_code_size
    cdef int end = clear + 1
    cdef int next_code = end + 1
    cdef int32_t keys[HASH_SLOTS]
    cdef int32_t codes[HASH_SLOTS]
    cdef _Bits bits = _Bits(n // 2 + 16)
    cdef int32_t prefix, key
    cdef Py_ssize_t i, slot
    cdef uint8_t value
    memset(keys, 0xFF, sizeof(keys))  # -1: an empty slot
    bits.put(clear, _width(next_code))
    if n == 0:
        bits.put(end, _width(next_code))
        return bits.finish()
    prefix = indices[0]
    for i in range(1, n):
        value = indices[i]
        key = (prefix << 8) | value
        slot = (<uint32_t>key * 2654435761u) % HASH_SLOTS
        while keys[slot] != -1 and keys[slot] != key:
            slot = slot + 1 if slot + 1 < HASH_SLOTS else 0
        if keys[slot] == key:
            prefix = codes[slot]
            continue
        bits.put(prefix, _width(next_code))
        if next_code < MAX_CODES:
            keys[slot] = key
            codes[slot] = next_code
            next_code += 1
        else:
            bits.put(clear, 12)
            memset(keys, 0xFF, sizeof(keys))
            next_code = end + 1
        prefix = value
    bits.put(prefix, _width(next_code))
    # The decoder adds an entry for the last code too: the end code is as wide as a
    # code written once that entry is there.
    if next_code < MAX_CODES:
        next_code += 1
    bits.put(end, _width(next_code))
    return bits.finish()
