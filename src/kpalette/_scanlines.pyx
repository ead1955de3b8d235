# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The compiled loops that import nothing, NumPy included: PNG scanline filters
(choosing and applying them when kpalette writes a palette PNG, undoing them when it
reads an 8-bit RGB or RGBA PNG) and the colour count of RGB pixels.

Apart from :mod:`kpalette._kernels` (the K-means and colour loops) because the
command line reads and decodes its input in a thread while NumPy is being imported
(:mod:`kpalette.decode`): the filters are undone there, on bytes, and the colours of
the decoded pixels counted, if NumPy is still loading by then. The filters have NumPy
twins in ``tests/reference.py`` and are tested against them; the count against
``numpy.unique``.
"""

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_FromStringAndSize
from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport abs, calloc, free, malloc
from libc.string cimport memcpy

# The same as _kernels' (a few lines of C, not worth a shared header to build with).
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int kpalette_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int kpalette_max_threads(void) { return 1; }
    #endif
    """
    int kpalette_max_threads() noexcept nogil



# --------------------------------------------------------------------------- both
cdef inline int _paeth_predictor(int left, int above, int upper_left) noexcept nogil:
    """PNG's Paeth predictor, of filtering and unfiltering alike: of ``left``, ``above``
    and ``upper_left``, the nearest to ``left + above - upper_left``, ties to left,
    then above. Without branches: decoding runs it on every byte, and on photos the
    choice is too irregular for branch prediction (a 2 MP RGB photo: 19 -> 9 ms)."""
    cdef int to_left = abs(above - upper_left), to_above = abs(left - upper_left)
    cdef int to_upper_left = abs(left + above - 2 * upper_left)
    cdef int not_left = -((to_left > to_above) | (to_left > to_upper_left))
    cdef int upper = -(to_above > to_upper_left)
    cdef int other = above ^ ((above ^ upper_left) & upper)
    return left ^ ((left ^ other) & not_left)


# --------------------------------------------------------------------------- writing
cdef inline int _signed_magnitude(uint8_t value) noexcept nogil:
    return value if value < 128 else 256 - value


cdef inline uint8_t _filtered(int kind, uint8_t value, uint8_t left, uint8_t above,
                              uint8_t upper_left) noexcept nogil:
    if kind == 0:
        return value
    if kind == 1:
        return <uint8_t>(value - left)
    if kind == 2:
        return <uint8_t>(value - above)
    if kind == 3:
        return <uint8_t>(value - ((<int>left + above) >> 1))
    return <uint8_t>(value - _paeth_predictor(left, above, upper_left))


cdef void _filter_row(const uint8_t* row, const uint8_t* previous, Py_ssize_t width,
                      uint8_t* out) noexcept nogil:
    """One scanline: ``previous`` is NULL for the first row (PNG reads it as zeros)."""
    cdef int64_t cost[5]
    cdef int64_t best
    cdef Py_ssize_t x
    cdef int kind, best_kind = 0
    cdef uint8_t left, above, upper_left
    for kind in range(5):
        cost[kind] = 0
    for x in range(width):
        left = row[x - 1] if x > 0 else 0
        above = previous[x] if previous != NULL else 0
        upper_left = previous[x - 1] if previous != NULL and x > 0 else 0
        for kind in range(5):
            cost[kind] += _signed_magnitude(_filtered(kind, row[x], left, above, upper_left))
    best = cost[0]
    for kind in range(1, 5):
        if cost[kind] < best:
            best = cost[kind]
            best_kind = kind
    out[0] = best_kind
    for x in range(width):
        left = row[x - 1] if x > 0 else 0
        above = previous[x] if previous != NULL else 0
        upper_left = previous[x - 1] if previous != NULL and x > 0 else 0
        out[x + 1] = _filtered(best_kind, row[x], left, above, upper_left)


def filter_rows(const uint8_t[:, ::1] samples, uint8_t[:, ::1] out):
    """PNG scanlines of one byte per pixel, each row filtered by the PNG filter (0
    none, 1 sub, 2 up, 3 average, 4 Paeth) whose bytes, read as signed, have the
    smallest sum of absolute values (ties to the lower number), rows in parallel.

    Parameters
    ----------
    samples : (H, W) uint8 array
    out : (H, W + 1) uint8 array
        Written: the filter number, then the filtered bytes, of every row.
    """
    cdef Py_ssize_t height = samples.shape[0], width = samples.shape[1], y
    if height == 0 or width == 0:
        return
    with nogil:
        for y in prange(height, schedule="static"):
            _filter_row(&samples[y, 0], &samples[y - 1, 0] if y > 0 else NULL, width,
                        &out[y, 0])


# --------------------------------------------------------------------------- reading
cdef extern from *:
    """
    /* One pixel of 3 or 4 bytes at a time in the eight 16-bit lanes of an SSE2
       register (every x86-64 processor has SSE2): the Paeth predictor's three
       distances, their minimum, and the choice it makes (ties to left, then above),
       as lane masks. Reads and writes 4 bytes at x, so for 3 bytes a pixel the
       caller leaves the row's last pixel to the scalar loop. Returns the number of
       bytes done. Elsewhere it does nothing and the scalar loop does the row. */
    #if defined(__SSE2__) || defined(_M_X64) || defined(_M_AMD64)
    #include <emmintrin.h>
    #include <string.h>
    static Py_ssize_t kpalette_paeth_sse2(const unsigned char* raw, const unsigned char* above,
                                          Py_ssize_t width, Py_ssize_t step, unsigned char* row) {
        const __m128i zero = _mm_setzero_si128(), low_byte = _mm_set1_epi16(0xff);
        __m128i left = zero, upper_left = zero;
        Py_ssize_t x = 0;
        int word;
        for (; x + 4 <= width && (step == 4 || x + 4 < width); x += step) {
            memcpy(&word, above + x, 4);
            __m128i up = _mm_unpacklo_epi8(_mm_cvtsi32_si128(word), zero);
            memcpy(&word, raw + x, 4);
            __m128i filtered = _mm_unpacklo_epi8(_mm_cvtsi32_si128(word), zero);
            __m128i to_left = _mm_sub_epi16(up, upper_left);
            __m128i to_above = _mm_sub_epi16(left, upper_left);
            __m128i to_upper_left = _mm_add_epi16(to_left, to_above);
            to_left = _mm_max_epi16(to_left, _mm_sub_epi16(zero, to_left));
            to_above = _mm_max_epi16(to_above, _mm_sub_epi16(zero, to_above));
            to_upper_left = _mm_max_epi16(to_upper_left, _mm_sub_epi16(zero, to_upper_left));
            __m128i smallest = _mm_min_epi16(to_left, _mm_min_epi16(to_above, to_upper_left));
            __m128i is_above = _mm_cmpeq_epi16(smallest, to_above);
            __m128i is_left = _mm_cmpeq_epi16(smallest, to_left);
            __m128i guess = _mm_or_si128(_mm_and_si128(is_above, up),
                                         _mm_andnot_si128(is_above, upper_left));
            guess = _mm_or_si128(_mm_and_si128(is_left, left), _mm_andnot_si128(is_left, guess));
            left = _mm_and_si128(_mm_add_epi16(filtered, guess), low_byte);
            upper_left = up;
            word = _mm_cvtsi128_si32(_mm_packus_epi16(left, left));
            memcpy(row + x, &word, 4);
        }
        return x;
    }
    #else
    static Py_ssize_t kpalette_paeth_sse2(const unsigned char* raw, const unsigned char* above,
                                          Py_ssize_t width, Py_ssize_t step, unsigned char* row) {
        return 0;
    }
    #endif
    """
    Py_ssize_t kpalette_paeth_sse2(const uint8_t* raw, const uint8_t* above, Py_ssize_t width,
                                   Py_ssize_t step, uint8_t* row) noexcept nogil


cdef void _unfilter_row(int kind, const uint8_t* raw, const uint8_t* above, Py_ssize_t width,
                        Py_ssize_t step, uint8_t* row) noexcept nogil:
    """One scanline of ``width`` bytes, ``step`` bytes per pixel; ``above`` is NULL for
    the first row (PNG reads it as zeros: up is then none, Paeth is sub)."""
    cdef Py_ssize_t x
    if above == NULL and kind == 2:
        kind = 0
    if above == NULL and kind == 4:
        kind = 1
    if kind == 0:
        memcpy(row, raw, width)
    elif kind == 1:
        for x in range(step):
            row[x] = raw[x]
        for x in range(step, width):
            row[x] = <uint8_t>(raw[x] + row[x - step])
    elif kind == 2:
        for x in range(width):
            row[x] = <uint8_t>(raw[x] + above[x])
    elif kind == 3:
        if above == NULL:
            for x in range(step):
                row[x] = raw[x]
            for x in range(step, width):
                row[x] = <uint8_t>(raw[x] + (row[x - step] >> 1))
        else:
            for x in range(step):
                row[x] = <uint8_t>(raw[x] + (above[x] >> 1))
            for x in range(step, width):
                row[x] = <uint8_t>(raw[x] + ((<int>row[x - step] + above[x]) >> 1))
    else:
        x = kpalette_paeth_sse2(raw, above, width, step, row) if step == 3 or step == 4 else 0
        if x == 0:
            for x in range(step):
                row[x] = <uint8_t>(raw[x] + above[x])
            x = step
        for x in range(x, width):
            row[x] = <uint8_t>(raw[x] + _paeth_predictor(row[x - step], above[x], above[x - step]))


def unfilter_rows(const uint8_t[::1] scanlines, uint8_t[:, ::1] out, Py_ssize_t step,
                  Py_ssize_t first_row=0):
    """Undo PNG's per-row filters (0 none, 1 sub, 2 up, 3 average, 4 Paeth): the
    inverse of :func:`filter_rows`, for any number of bytes per pixel.

    Rows depend on the row above, so they are undone one after another; each filter
    has its own loop (measured on a 2 MP RGB photo, almost all rows Paeth: 8 ms).
    An image can be undone in pieces of whole rows, in order, as it is inflated.

    Parameters
    ----------
    scanlines : (n * (W + 1),) uint8 array
        Inflated image data of rows ``first_row`` to ``first_row + n - 1``: each
        row's filter number, then its W filtered bytes.
    out : (H, W) uint8 array
        The whole image. Written: rows ``first_row`` to ``first_row + n - 1``; the
        row above them, when there is one, is read.
    step : int
        Bytes per pixel (3 for 8-bit RGB, 4 for RGBA): the distance to the left
        neighbour that the filters read.
    first_row : int, optional
        The image row of the first scanline.

    Returns
    -------
    bad_row : int
        -1, or the first row (of the image) whose filter number is not 0-4 (rows
        from it on are left unwritten).
    """
    cdef Py_ssize_t height = out.shape[0], width = out.shape[1], n_rows, y, start
    cdef Py_ssize_t bad_row = -1
    cdef int kind
    n_rows = scanlines.shape[0] // (width + 1)
    if scanlines.shape[0] != n_rows * (width + 1) or not 0 <= first_row <= height - n_rows:
        raise ValueError(
            f"scanlines of {scanlines.shape[0]} bytes from row {first_row} are not whole "
            f"rows of 1 + {width} bytes within {height}"
        )
    if step < 1 or (width and width % step):
        raise ValueError(f"step must divide the row width {width}, got {step}")
    with nogil:
        for y in range(first_row, first_row + n_rows):
            start = (y - first_row) * (width + 1)
            kind = scanlines[start]
            if kind > 4:
                bad_row = y
                break
            if width:
                _unfilter_row(kind, &scanlines[start + 1], &out[y - 1, 0] if y > 0 else NULL,
                              width, step, &out[y, 0])
    return bad_row


def new_bytearray(Py_ssize_t size):
    """A ``bytearray`` of ``size`` bytes, not cleared: for pixels about to be written
    whole (``bytearray(size)`` writes zeros first, 0.27 s of a 105 MP decode)."""
    if size < 0:
        raise ValueError(f"size must be at least 0, got {size}")
    return PyByteArray_FromStringAndSize(NULL, size)


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

cdef extern from *:
    """
    static int kpalette_flag_set(const unsigned char* flag) {
        return *(const volatile unsigned char*)flag != 0;
    }
    """
    bint kpalette_flag_set(const uint8_t* flag) noexcept nogil

#: Pixels counted between two looks at count_rgb's ``stop`` flag (about 0.4 ms on
#: one thread).
cdef Py_ssize_t STOP_CHECK_PIXELS = 1 << 16


def count_rgb(const uint8_t[:, ::1] pixels, bint skip_transparent=False, int threads=0,
              const uint8_t[::1] stop=None):
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
    stop : one-byte buffer, optional
        Read while counting, at least every ``STOP_CHECK_PIXELS`` pixels: once it is
        not 0 (set by another thread), the count gives up and returns None.

    Returns
    -------
    codes : bytearray of n int64 values, in the machine's byte order
        ``(r << 16) | (g << 8) | b`` of each distinct colour, ascending
        (``numpy.frombuffer(codes, numpy.int64)`` reads them without a copy).
    counts : bytearray of n int64 values, the same way
        Pixels of each colour.

    Notes
    -----
    A radix partition on the red byte, then one small count per partition: the
    pixels' green-blue halves are first written out grouped by red (each thread
    its share of the pixels, at offsets from a first counting pass), then each of
    the 256 groups is counted in a 65,536-entry table of its thread (256 kB, in
    the core's cache), its distinct values found in ascending order from a bitmap.
    Counting straight into one table over all 2^24 codes took 0.050 s on 8.7 MP
    (random writes to 64 MB, most of them TLB misses) and does not divide between
    threads; this takes about 0.022 s on 2 cores and needs 2 bytes per pixel
    instead of the 64 MB table.
    """
    cdef Py_ssize_t n = pixels.shape[0], i, chunk, first, last
    cdef int n_threads = max(1, min(threads if threads > 0 else kpalette_max_threads(),
                                    <int>(n >> 16) + 1))
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
    cdef uint8_t never = 0
    cdef const uint8_t* stop_flag = &never if stop is None or stop.shape[0] == 0 else &stop[0]
    cdef Py_ssize_t block, block_end
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
                block = first
                while block < last and not kpalette_flag_set(stop_flag):
                    block_end = min(last, block + STOP_CHECK_PIXELS)
                    if skip_transparent:
                        for i in range(block, block_end):
                            if pixels[i, 3] != 0:
                                row[((i & 3) << 8) | pixels[i, 0]] += 1
                    else:
                        for i in range(block, block_end):
                            row[((i & 3) << 8) | pixels[i, 0]] += 1
                    block = block_end
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
                block = first
                while block < last and not kpalette_flag_set(stop_flag):
                    block_end = min(last, block + STOP_CHECK_PIXELS)
                    for i in range(block, block_end):
                        if skip_transparent and pixels[i, 3] == 0:
                            continue
                        r = ((i & 3) << 8) | pixels[i, 0]
                        low[row[r]] = <uint16_t>((pixels[i, 1] << 8) | pixels[i, 2])
                        row[r] += 1
                    block = block_end
            for r in prange(256, schedule="dynamic", num_threads=n_threads):
                if group_start[r + 1] == group_start[r] or kpalette_flag_set(stop_flag):
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
        if kpalette_flag_set(stop_flag):
            return None
        if failed:
            raise MemoryError()
        codes = new_bytearray(distinct_total * sizeof(int64_t))
        counts = new_bytearray(distinct_total * sizeof(int64_t))
        _gather_groups(group_values, group_counts, group_distinct,
                       <int64_t*>PyByteArray_AS_STRING(codes),
                       <int64_t*>PyByteArray_AS_STRING(counts))
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
