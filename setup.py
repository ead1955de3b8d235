"""Build the compiled modules (``kpalette._kernels.*``, Cython) with OpenMP where available.

Everything else about the package is in ``pyproject.toml``.
"""

import os
import subprocess
import sys
import sysconfig
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup


def openmp_flags() -> list[str]:
    """``-fopenmp`` when the C compiler builds and links an OpenMP program, else nothing.

    Without OpenMP the kernels run on one thread and give the same results.
    """
    if sys.platform == "win32":
        return ["/openmp"]
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    with tempfile.TemporaryDirectory() as work:
        source = os.path.join(work, "probe.c")
        with open(source, "w") as handle:
            handle.write("#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n")
        command = compiler.split() + ["-fopenmp", source, "-o", os.path.join(work, "probe")]
        try:
            done = subprocess.run(command, capture_output=True, check=False)
        except OSError:
            return []
    return ["-fopenmp"] if done.returncode == 0 else []


flags = openmp_flags()
extensions = [
    Extension(
        name,
        sources=[f"src/{name.replace('.', '/')}.pyx"],
        # -g0: no debug information (a third of the wheel's size)
        extra_compile_args=["-O3", "-g0", *flags] if sys.platform != "win32" else flags,
        extra_link_args=flags if sys.platform != "win32" else [],
    )
    for name in (
        "kpalette._kernels.labels",
        "kpalette._kernels.tree",
        "kpalette._kernels.grid",
        "kpalette._kernels.nearest",
        "kpalette._kernels.clustering",
        "kpalette._kernels.seeding",
        "kpalette._kernels.measures",
        "kpalette._kernels.ssim",
        "kpalette._kernels.dithering",
        "kpalette._kernels.png_filters",
        "kpalette._kernels.runs",
        "kpalette._kernels.lzw",
        "kpalette._kernels.ssimulacra2",
        "kpalette._kernels.threads",
    )
]
setup(
    ext_modules=cythonize(
        extensions, include_path=["src"], compiler_directives={"language_level": 3}
    )
)
