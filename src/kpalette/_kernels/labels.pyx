# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Label maps and colour counts: every pixel's label from its colour, and the
distinct colours of a set of pixels with their counts. Tested against NumPy twins in
``tests/reference.py`` and against ``numpy.unique``.
"""

import numpy as np

from cython.parallel cimport prange, threadid
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc

from kpalette._kernels._shared cimport GRAIN_PIXELS, check_length, kpalette_team

ctypedef fused label_t:
    uint8_t
    int32_t


# --------------------------------------------------------------------------- label maps
def lookup_rgb(const uint8_t[:, ::1] pixels, const int64_t[::1] codes,
               const label_t[::1] color_labels, label_t[::1] out,
               int64_t transparent_label=-1):
    """The label of every pixel's colour (the label map), through a two-level table.

    A table over the 65,536 (red, green) pairs gives each pair present among
    ``codes`` a block of 256 labels, one per blue value: a photo's colours have far
    fewer pairs than the 65,536 possible, so the blocks take a few MB where one table
    over all 2^24 codes would take 16 MB, most of its pages touched.

    Parameters
    ----------
    pixels : (N, 3) or (N, 4) uint8 array
        The colour of each is its first three channels, and must be one of
        ``codes`` (unless transparent, below); any other colour gets label 0.
    codes : (n,) int64 array
        ``(r << 16) | (g << 8) | b`` of each distinct colour, below ``2 ** 24``.
    color_labels : (n,) uint8 or int32 array
        The label of each.
    out : (N,) array of the same dtype, written in place
    transparent_label : int
        When 0 or more, what the pixels whose alpha (fourth channel) is 0 get.
    """
    cdef Py_ssize_t n = pixels.shape[0], n_codes = codes.shape[0], i, j, pair
    cdef int64_t n_blocks = 0
    cdef bint skip = transparent_label >= 0
    _check_channels(pixels, skip, "a transparent label")
    if color_labels.shape[0] != n_codes:
        raise ValueError(f"expected {n_codes} labels, one per code, got {color_labels.shape[0]}")
    check_length("out", out.shape[0], n)
    codes_array = np.asarray(codes)
    if n_codes and (codes_array.min() < 0 or codes_array.max() >= (1 << 24)):
        raise ValueError(
            f"codes must be 24-bit colours (0..2**24 - 1), got values from "
            f"{codes_array.min()} to {codes_array.max()}"
        )
    # Block 0 stays zeros: pairs without colours point at it.
    cdef int32_t* block_of = <int32_t*>calloc(65536, sizeof(int32_t))
    cdef label_t* blocks = NULL
    if block_of == NULL:
        raise MemoryError()
    try:
        with nogil:
            for j in range(n_codes):
                block_of[codes[j] >> 8] = 1
            for pair in range(65536):
                if block_of[pair]:
                    n_blocks += 1
                    block_of[pair] = <int32_t>n_blocks
        blocks = <label_t*>calloc((n_blocks + 1) * 256, sizeof(label_t))
        if blocks == NULL:
            raise MemoryError()
        with nogil:
            for j in range(n_codes):
                blocks[(<int64_t>block_of[codes[j] >> 8] << 8) | (codes[j] & 255)] = color_labels[j]
            for i in prange(n, schedule="static", num_threads=kpalette_team(n, GRAIN_PIXELS)):
                if skip and pixels[i, 3] == 0:
                    out[i] = <label_t>transparent_label
                    continue
                pair = (<Py_ssize_t>pixels[i, 0] << 8) | pixels[i, 1]
                out[i] = blocks[(<int64_t>block_of[pair] << 8) | pixels[i, 2]]
    finally:
        free(block_of)
        free(blocks)


#: Colours above which :func:`lookup_rgba` buckets them by 24 bits instead of 16.
cdef Py_ssize_t LOOKUP_FINE_FROM = 1 << 20


cdef int _check_channels(const uint8_t[:, ::1] pixels, bint uses_alpha, str what) except -1:
    """RGB or RGBA pixels, and RGBA when ``what`` (the caller's option) uses alpha."""
    if pixels.shape[1] not in (3, 4):
        raise ValueError(f"expected 3 or 4 channels, got {pixels.shape[1]}")
    if uses_alpha and pixels.shape[1] != 4:
        raise ValueError(f"{what} needs an alpha channel (4 channels)")
    return 0


def lookup_rgba(const uint8_t[:, ::1] pixels, const int64_t[::1] codes,
                const label_t[::1] color_labels, label_t[::1] out,
                int64_t transparent_label=-1, int bucket_bits=0):
    """The label of every RGBA pixel's colour, by a search within its bucket.

    A table over all 32-bit codes would not fit, and a binary search over the whole
    sorted list costs a cache miss at each of its ~20 steps. Here the codes that
    share their top bits form a bucket, found through a table of bucket starts, and
    the search stays within it: 16 bits (red and green; a 256 kB table) up to a
    million colours, 24 bits (red, green and blue; a 64 MB table) above, where
    16-bit buckets grow to hundreds of colours.

    Parameters
    ----------
    pixels : (N, 4) uint8 array
        Every colour must be one of ``codes``.
    codes : (n,) int64 array, ascending
        ``(r << 24) | (g << 16) | (b << 8) | a`` of each distinct colour.
    color_labels : (n,) uint8 or int32 array
        The label of each.
    out : (N,) array of the same dtype, written in place
    transparent_label : int
        When 0 or more, what the pixels whose alpha is 0 get (their colours need not
        be among ``codes``).
    bucket_bits : {0, 16, 24}
        Top bits of the codes that make a bucket (0: by the number of colours).
    """
    cdef Py_ssize_t n = pixels.shape[0], block, n_blocks = (n + LOOKUP_BLOCK - 1) // LOOKUP_BLOCK
    cdef bint skip = transparent_label >= 0
    _check_channels(pixels, skip, "a transparent label")
    if pixels.shape[1] != 4:
        raise ValueError(f"expected 4 channels, got {pixels.shape[1]}")
    cdef Py_ssize_t n_codes = codes.shape[0], j
    if bucket_bits not in (0, 16, 24):
        raise ValueError(f"bucket_bits must be 0, 16 or 24, got {bucket_bits}")
    if bucket_bits == 0:
        bucket_bits = 16 if n_codes <= LOOKUP_FINE_FROM else 24
    cdef int shift = 32 - bucket_bits
    if n_codes >= (<int64_t>1) << 32:
        raise ValueError(f"at most 2**32 - 1 colours, got {n_codes}")
    if color_labels.shape[0] != n_codes:
        raise ValueError(f"expected {n_codes} labels, one per code, got {color_labels.shape[0]}")
    check_length("out", out.shape[0], n)
    if n and n_codes == 0:
        raise ValueError("no codes to look the pixels up in")
    codes_array = np.asarray(codes)
    if n_codes and (codes_array[0] < 0 or codes_array[n_codes - 1] >= ((<int64_t>1) << 32)
                    or (n_codes > 1 and (np.diff(codes_array) <= 0).any())):
        raise ValueError("codes must be distinct 32-bit colours (0..2**32 - 1) in ascending order")
    # starts[b] = the first code whose top bits are at least b.
    starts_array = np.zeros(((<int64_t>1) << (32 - shift)) + 1, dtype=np.uint32)
    cdef uint32_t[::1] starts = starts_array
    with nogil:
        for j in range(n_codes):
            starts[(codes[j] >> shift) + 1] += 1
        for j in range(1, starts.shape[0]):
            starts[j] += starts[j - 1]
        for block in prange(n_blocks, schedule="static",
                               num_threads=kpalette_team(n, GRAIN_PIXELS)):
            _lookup_rgba_block(&pixels[0, 0], &codes[0], &color_labels[0], &out[0],
                               &starts[0], shift, skip, <label_t>transparent_label,
                               block * LOOKUP_BLOCK, min((block + 1) * LOOKUP_BLOCK, n))


#: Pixels per task of :func:`lookup_rgba`, each a run in which a pixel of the same
#: colour as the one before it takes its label without a search.
cdef Py_ssize_t LOOKUP_BLOCK = 1 << 16


cdef void _lookup_rgba_block(const uint8_t* pixels, const int64_t* codes,
                             const label_t* color_labels, label_t* out,
                             const uint32_t* starts, int shift, bint skip,
                             label_t transparent_label, Py_ssize_t first,
                             Py_ssize_t stop) noexcept nogil:
    """:func:`lookup_rgba` for pixels ``first..stop``. A third of a photo's pixels
    repeat the colour of their left neighbour: those reuse its label, where each
    search costs a few cache misses."""
    cdef Py_ssize_t i, low, high, middle
    cdef int64_t code, previous_code = -1
    cdef label_t label = 0
    cdef const uint8_t* pixel
    for i in range(first, stop):
        pixel = pixels + 4 * i
        if skip and pixel[3] == 0:
            out[i] = transparent_label
            continue
        code = ((<int64_t>pixel[0] << 24) | (<int64_t>pixel[1] << 16)
                | (<int64_t>pixel[2] << 8) | pixel[3])
        if code != previous_code:
            # codes[low] <= code < codes[high] (high: the end of the bucket)
            low = starts[code >> shift]
            high = starts[(code >> shift) + 1]
            if low == high:  # a colour not among the codes, in an empty bucket
                low = low - 1 if low > 0 else 0
            while high - low > 1:
                middle = (low + high) >> 1
                if codes[middle] <= code:
                    low = middle
                else:
                    high = middle
            label = color_labels[low]
            previous_code = code
        out[i] = label


# --------------------------------------------------------------------------- counting
cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    static int kpalette_popcount64(unsigned long long x) { return __builtin_popcountll(x); }
    static int kpalette_ctz64(unsigned long long x) { return __builtin_ctzll(x); }
    #else
    static int kpalette_popcount64(unsigned long long x) {
        int n = 0; while (x) { x &= x - 1; n++; } return n;
    }
    static int kpalette_ctz64(unsigned long long x) {
        int n = 0; while (!(x & 1)) { x >>= 1; n++; } return n;
    }
    #endif
    """
    int kpalette_popcount64(unsigned long long x) noexcept nogil
    int kpalette_ctz64(unsigned long long x) noexcept nogil

def count_rgb(const uint8_t[:, ::1] pixels, bint skip_transparent=False, int threads=0):
    """Distinct 24-bit colours and their pixel counts.

    Parameters
    ----------
    pixels : (N, 3) or (N, 4) uint8 array
        The first three channels are counted.
    skip_transparent : bool
        Leave out the pixels whose fourth channel (alpha) is 0: the visible colours
        of an RGBA image, counted with no copy of them.
    threads : int
        Most threads to count with (0: as many as OpenMP has). The result does not
        depend on it.

    Returns
    -------
    codes : (n,) int64 array
        ``(r << 16) | (g << 8) | b`` of each distinct colour, ascending.
    counts : (n,) int64 array
        Pixels of each colour.

    Notes
    -----
    A radix partition on the red byte, then one small count per partition: the
    pixels' green-blue halves are first written out grouped by red (each thread
    its share of the pixels, at offsets from a first counting pass), then each of
    the 256 groups is counted in a 65,536-entry table of its thread (256 kB, in
    the core's cache), its distinct values found in ascending order from a bitmap.
    Counting straight into one table over all 2^24 codes (random writes to 64 MB,
    most of them TLB misses) takes twice as long and does not divide between
    threads; this needs 2 bytes per pixel instead of the 64 MB table.
    """
    cdef Py_ssize_t n = pixels.shape[0], i, chunk, first, last
    cdef int n_threads = max(1, threads if threads > 0 else kpalette_team(n, GRAIN_PIXELS))
    cdef int t, r
    if pixels.shape[1] not in (3, 4):
        raise ValueError(f"expected 3 or 4 channels, got {pixels.shape[1]}")
    if skip_transparent and pixels.shape[1] != 4:
        raise ValueError("skip_transparent needs an alpha channel (4 channels)")
    cdef int64_t position, distinct_total = 0
    # Per thread: 4 interleaved count rows (consecutive pixels often share a red
    # value; one row would chain every increment on the one before), then offsets.
    cdef int64_t* red_counts = <int64_t*>calloc(n_threads * 4 * 256, sizeof(int64_t))
    cdef int64_t* write_at = <int64_t*>calloc(n_threads * 4 * 256, sizeof(int64_t))
    cdef int64_t* group_start = <int64_t*>calloc(257, sizeof(int64_t))
    cdef int64_t* group_distinct = <int64_t*>calloc(256, sizeof(int64_t))
    cdef uint16_t* low = <uint16_t*>malloc(max(n, 1) * sizeof(uint16_t))
    cdef uint32_t* tables = <uint32_t*>calloc(n_threads * 65536, sizeof(uint32_t))
    cdef uint64_t* bitmaps = <uint64_t*>calloc(n_threads * 1024, sizeof(uint64_t))
    cdef uint32_t** group_counts = <uint32_t**>calloc(256, sizeof(uint32_t*))
    cdef uint16_t** group_values = <uint16_t**>calloc(256, sizeof(uint16_t*))
    cdef uint32_t* table
    cdef uint64_t* bitmap
    cdef uint64_t word
    cdef int64_t* row
    cdef int64_t found
    cdef int failed = 0, word_index, value
    cdef int64_t[::1] codes_view, counts_view
    try:
        if (red_counts == NULL or write_at == NULL or group_start == NULL or low == NULL
                or tables == NULL or bitmaps == NULL or group_counts == NULL
                or group_values == NULL or group_distinct == NULL):
            raise MemoryError()
        chunk = (n + n_threads - 1) // n_threads
        with nogil:
            for t in prange(n_threads, schedule="static", num_threads=n_threads):
                first = t * chunk
                last = min(n, first + chunk)
                row = red_counts + t * 4 * 256
                if skip_transparent:
                    for i in range(first, last):
                        if pixels[i, 3] != 0:
                            row[((i & 3) << 8) | pixels[i, 0]] += 1
                else:
                    for i in range(first, last):
                        row[((i & 3) << 8) | pixels[i, 0]] += 1
            position = 0
            for r in range(256):
                group_start[r] = position
                for t in range(n_threads * 4):
                    write_at[t * 256 + r] = position
                    position += red_counts[t * 256 + r]
            group_start[256] = position
            # Each of the 4 lanes writes at offsets of its own, for the same reason.
            for t in prange(n_threads, schedule="static", num_threads=n_threads):
                first = t * chunk
                last = min(n, first + chunk)
                row = write_at + t * 4 * 256
                for i in range(first, last):
                    if skip_transparent and pixels[i, 3] == 0:
                        continue
                    r = ((i & 3) << 8) | pixels[i, 0]
                    low[row[r]] = <uint16_t>((pixels[i, 1] << 8) | pixels[i, 2])
                    row[r] += 1
            for r in prange(256, schedule="dynamic", num_threads=n_threads):
                if group_start[r + 1] == group_start[r]:
                    continue
                table = tables + threadid() * 65536
                bitmap = bitmaps + threadid() * 1024
                for i in range(group_start[r], group_start[r + 1]):
                    table[low[i]] += 1
                    bitmap[low[i] >> 6] |= (<uint64_t>1) << (low[i] & 63)
                found = 0
                for word_index in range(1024):
                    found = found + kpalette_popcount64(bitmap[word_index])
                group_distinct[r] = found
                group_values[r] = <uint16_t*>malloc(found * sizeof(uint16_t))
                group_counts[r] = <uint32_t*>malloc(found * sizeof(uint32_t))
                found = 0
                for word_index in range(1024):
                    word = bitmap[word_index]
                    bitmap[word_index] = 0
                    while word != 0:
                        value = (word_index << 6) | kpalette_ctz64(word)
                        word = word & (word - 1)
                        if group_values[r] != NULL and group_counts[r] != NULL:
                            group_values[r][found] = <uint16_t>value
                            group_counts[r][found] = table[value]
                        table[value] = 0
                        found = found + 1
            for r in range(256):
                distinct_total += group_distinct[r]
                if group_distinct[r] and (group_values[r] == NULL or group_counts[r] == NULL):
                    failed = 1
        if failed:
            raise MemoryError()
        codes = np.empty(distinct_total, dtype=np.int64)
        counts = np.empty(distinct_total, dtype=np.int64)
        codes_view = codes
        counts_view = counts
        if distinct_total:
            _gather_groups(group_values, group_counts, group_distinct,
                           &codes_view[0], &counts_view[0])
    finally:
        if group_values != NULL and group_counts != NULL:
            for r in range(256):
                free(group_values[r])
                free(group_counts[r])
        free(red_counts)
        free(write_at)
        free(group_start)
        free(group_distinct)
        free(low)
        free(tables)
        free(bitmaps)
        free(group_counts)
        free(group_values)
    return codes, counts


cdef void _gather_groups(uint16_t** values, uint32_t** counts, const int64_t* distinct,
                         int64_t* codes, int64_t* out_counts) noexcept:
    cdef int64_t position = 0, j
    cdef int r
    with nogil:
        for r in range(256):
            for j in range(distinct[r]):
                codes[position] = (<int64_t>r << 16) | values[r][j]
                out_counts[position] = counts[r][j]
                position += 1


# --------------------------------------------------------------------------- entry counts
def count_labels(const label_t[::1] labels, Py_ssize_t n_entries):
    """Pixels of each palette entry: ``np.bincount(labels, minlength=n_entries)``.

    Parameters
    ----------
    labels : (N,) uint8 or int32 array
        Every value in ``0 .. n_entries - 1`` (checked: a value out of range is a
        ValueError, not a write outside the table).
    n_entries : int >= 1

    Returns
    -------
    (n_entries,) int64 array

    Notes
    -----
    Each thread counts its share of the pixels into a table of its own, and the tables
    are added: no widened copy of the labels (NumPy's bincount makes one, 8 bytes a
    pixel, and runs on one thread).
    """
    cdef Py_ssize_t n = labels.shape[0], i, first, last, chunk, e
    if n_entries < 1 or n_entries > (1 << 31):
        raise ValueError(f"n_entries must be in 1..2**31, got {n_entries}")
    cdef int n_threads = kpalette_team(n, GRAIN_PIXELS), t
    tables_array = np.zeros((n_threads, n_entries), dtype=np.int64)
    bad_array = np.zeros(n_threads, dtype=np.int64)
    cdef int64_t[:, ::1] tables = tables_array
    cdef int64_t[::1] bad = bad_array
    cdef int64_t value
    chunk = (n + n_threads - 1) // n_threads if n else 0
    with nogil:
        for t in prange(n_threads, schedule="static", num_threads=n_threads):
            first = t * chunk
            last = min(n, first + chunk)
            for i in range(first, last):
                value = <int64_t>labels[i]
                if value < 0 or value >= n_entries:
                    bad[t] += 1
                else:
                    tables[t, value] += 1
    if bad_array.any():
        raise ValueError(f"labels must be in 0..{n_entries - 1}; {int(bad_array.sum())} are not")
    return tables_array.sum(axis=0)
