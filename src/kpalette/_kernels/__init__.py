"""The compiled loops (Cython), one module per job.

- :mod:`.labels`: each pixel's label from its colour, and colour counts;
- :mod:`.nearest`: each point's nearest centre (``assign``);
- :mod:`.tree`: the points' grid tree (``PointTree``), declared in ``tree.pxd``;
- :mod:`.grid`: the grid histogram (``grid_means``);
- :mod:`.clustering`: Lloyd's iterations over the tree;
- :mod:`.seeding`: k-means++ on the tree;
- :mod:`.measures`: CIELAB, CIEDE2000, the table sums of the quality measures;
- :mod:`.ssim`: SSIM's window sums;
- :mod:`.ssimulacra2`: SSIMULACRA2's blur and map sums;
- :mod:`.dithering`: Floyd-Steinberg error diffusion onto a palette;
- :mod:`.png_filters`: the PNG writer's scanline filters;
- :mod:`.runs`: pixels mapped along runs of a neighbour's entry;
- :mod:`.lzw`: GIF's LZW, for the animation writer;
- :mod:`.threads`: how many threads this process's parallel regions use.

Each ``def`` function checks the shapes, dtypes and value ranges of its arguments
before its unchecked loops run, and each has a plain NumPy twin in
``tests/reference.py`` that it is tested against. Threads (OpenMP, where the compiler
has it) run only loops whose result does not depend on how the work is split.
"""

import os

# Threads that wait for the next parallel region sleep rather than spin: a spinning
# thread takes a core from whatever else runs on the machine, and on a busy one the
# region after waits for it (docs/benchmarks.md, "Threads"). The OpenMP runtime reads
# it once, when the first compiled module loads it; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
