# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""The points' grid tree (:class:`PointTree`), declared for the modules that walk it
(clustering: Lloyd's assignment; seeding: k-means++)."""

from libc.stdint cimport int64_t


cdef struct _TreeArrays:
    # A PointTree's arrays, for the compiled walks (owned by the tree, read only).
    int d
    const double* points
    const double* weights
    const int64_t* start
    const int64_t* stop
    const double* low
    const double* high
    const double* sum
    const double* total
    const int64_t* child_first
    const int64_t* child_count


cdef class PointTree:
    cdef readonly object order, points, weights
    cdef readonly object start, stop, low, high, sum, total, child_first, child_count
    cdef readonly int depth
    cdef readonly bint in_place
    cdef _TreeArrays arrays  # pointers into the arrays above, for the walks


cdef void _bounding_box(const double[:, ::1] points, double* low, double* span) noexcept nogil
