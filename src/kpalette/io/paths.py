"""Where files go: sizes, checks of a destination (never the input, never an existing
file unless asked), and atomic writes: the bytes go to a temporary file in the
destination folder, which is then linked or renamed into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..exceptions import ImageWriteError, OutputExistsError


def file_size(path) -> int | None:
    """Size of a file in bytes, or None when ``path`` is not a file."""
    try:
        return os.stat(path).st_size
    except (OSError, TypeError):
        return None


def check_destination(path, *, overwrite: bool = False, protect=()) -> None:
    """Refuse to write over an input, into a missing folder, or over a file unasked.

    A symbolic link is checked as the file it points to (it is written through).
    """
    dest = _resolve_link(Path(path))
    parent = dest.parent if str(dest.parent) else Path(".")
    for protected in protect:
        if protected is not None and _same_file(dest, Path(protected)):
            raise ImageWriteError(f"output {str(dest)!r} is the input file; choose another name")
    if not parent.is_dir():
        raise ImageWriteError(f"output folder does not exist: {str(parent)!r}")
    if dest.is_dir():
        raise ImageWriteError(f"output {str(dest)!r} is a directory")
    if dest.exists() and not overwrite:
        raise OutputExistsError(f"output exists: {str(dest)!r} (use --force to overwrite)")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


#: Temporary files are named ``.<output name>.kpalette-<pid>-<random>.tmp`` beside the
#: output: a process killed while writing leaves one, which the next write of the same
#: output removes once no process of that id runs.
TEMPORARY_SUFFIX = ".tmp"


def _temporary_prefix(dest: Path) -> str:
    return f".{dest.name}.kpalette-"


def _remove_stale_temporaries(dest: Path, parent: Path) -> None:
    """Remove what writes of ``dest`` killed before they finished left behind."""
    prefix = _temporary_prefix(dest)
    try:
        names = [name for name in os.listdir(parent) if name.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix) :].split("-", 1)[0]
        if not name.endswith(TEMPORARY_SUFFIX) or not pid.isdigit():
            continue
        if int(pid) != os.getpid() and not _process_runs(int(pid)):
            _remove_quietly(str(parent / name))


def remove_stale_temporaries(path) -> None:
    """Remove the temporary files that writes of ``path`` killed before they finished
    left beside it (those whose process is gone)."""
    dest = _resolve_link(Path(path))
    _remove_stale_temporaries(dest, dest.parent if str(dest.parent) else Path("."))


def _process_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process: leave its file alone
    return True


def _resolve_link(dest: Path) -> Path:
    """The file a symbolic link points to (written through, not replaced by a file)."""
    if not dest.is_symlink():
        return dest
    target = Path(os.path.realpath(dest))
    if not target.parent.is_dir():
        raise ImageWriteError(
            f"output {str(dest)!r} is a symbolic link to {str(target)!r}, in a folder "
            "that does not exist"
        )
    return target


def _atomic_write(path, data: bytes, *, overwrite: bool) -> int:
    """Write ``data`` to a temporary file beside ``path``, then move it into place.

    A symbolic link at ``path`` is written through: its target gets the data.
    """
    dest = _resolve_link(Path(path))
    parent = dest.parent if str(dest.parent) else Path(".")
    _remove_stale_temporaries(dest, parent)
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=parent,
            prefix=f"{_temporary_prefix(dest)}{os.getpid()}-",
            suffix=TEMPORARY_SUFFIX,
        )
    except OSError as exc:
        raise ImageWriteError(f"cannot write in {str(parent)!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp_name, 0o666 & ~_umask())
        _move_into_place(tmp_name, dest, overwrite=overwrite)
    except BaseException:
        _remove_quietly(tmp_name)
        raise
    _remove_quietly(tmp_name)
    return len(data)


def _move_into_place(tmp_name: str, dest: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp_name, dest)
        return
    try:
        # link() fails if dest appeared meanwhile: no race between check and write.
        os.link(tmp_name, dest)
    except FileExistsError:
        raise OutputExistsError(
            f"output exists: {str(dest)!r} (use --force to overwrite)"
        ) from None
    except OSError:
        # File systems without hard links: check, then rename.
        if dest.exists():
            raise OutputExistsError(
                f"output exists: {str(dest)!r} (use --force to overwrite)"
            ) from None
        os.replace(tmp_name, dest)


def _remove_quietly(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)


_UMASK: list[int] = []


def _umask() -> int:
    if not _UMASK:
        current = os.umask(0)
        os.umask(current)
        _UMASK.append(current)
    return _UMASK[0]


def write_bytes_atomic(path, data: bytes, *, overwrite: bool = False, protect=()) -> int:
    """Write raw bytes (a palette export, a report) atomically, with the output checks."""
    check_destination(path, overwrite=overwrite, protect=protect)
    return _atomic_write(path, data, overwrite=overwrite)
