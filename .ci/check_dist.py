"""Check the built distributions: the sdist holds every source the wheel is built from
(the Cython sources included, the generated C files left out), and the wheel holds the
compiled modules but not their sources.

Usage: python3 .ci/check_dist.py SDIST WHEEL
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import PurePosixPath


def main(sdist: str, wheel: str) -> int:
    with tarfile.open(sdist) as archive:
        in_sdist = {PurePosixPath(*PurePosixPath(name).parts[1:]) for name in archive.getnames()}
    tracked = subprocess.run(
        ["git", "ls-files", "src", "setup.py", "pyproject.toml", "MANIFEST.in"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    problems = [
        f"the sdist lacks {name}" for name in tracked if PurePosixPath(name) not in in_sdist
    ]
    problems += [
        f"the sdist holds a build output: {p}" for p in in_sdist if p.suffix in {".c", ".so"}
    ]
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = [PurePosixPath(name) for name in archive.namelist()]
    kernels = {p.stem for p in in_sdist if p.suffix == ".pyx"}
    compiled = {p.name.split(".")[0] for p in in_wheel if p.suffix in {".so", ".pyd"}}
    problems += [f"the wheel lacks the compiled {name}" for name in sorted(kernels - compiled)]
    problems += [
        f"the wheel holds a source: {p}" for p in in_wheel if p.suffix in {".pyx", ".pxd", ".c"}
    ]
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    if not problems:
        print(
            f"check_dist: {len(in_sdist)} files in the sdist, "
            f"{len(compiled)} compiled modules in the wheel"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
