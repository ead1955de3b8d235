# cython: language_level=3
"""The number of threads the compiled loops' parallel regions may use in this process.

OpenMP reads ``OMP_NUM_THREADS`` once, when its runtime loads; a process that runs
kpalette's loops on behalf of another (a batch worker) is told its share here
instead, as an argument, rather than through the environment.
"""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static void kpalette_set_threads(int n) { omp_set_num_threads(n); }
    static int kpalette_get_threads(void) { return omp_get_max_threads(); }
    #else
    static void kpalette_set_threads(int n) { (void)n; }
    static int kpalette_get_threads(void) { return 1; }
    #endif
    """
    void kpalette_set_threads(int n) nogil
    int kpalette_get_threads() nogil


def max_threads():
    """Threads a parallel region started from this thread may use (1 without OpenMP)."""
    return kpalette_get_threads()


def set_max_threads(n):
    """Let the parallel regions started from this thread use at most ``n`` threads.

    Parameters
    ----------
    n : int >= 1
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of threads must be a whole number >= 1, got {n!r}")
    kpalette_set_threads(min(n, 1 << 16))
