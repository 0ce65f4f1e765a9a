"""Files that hold secrets: written exclusively and atomically, mode 0600, never via a symlink.

Secrets on disk: the wallet keystore, a node's ``forging_keys.json`` and ``node.json`` (admin
token), the swap database with its WAL/SHM (preimages), and the development stack's key files
(``parties.json``, the nodes' configs and key files, ``stack.json``). Issue 11 item 14: the old
writer opened a fixed ``<name>.tmp`` with ``O_CREAT|O_TRUNC``, so a symlink planted there received
the secret and an existing 0644 temporary file kept its mode; the swap database was created 0644.

* :func:`write_private` writes to a fresh temporary file in the same directory (``mkstemp``:
  ``O_CREAT|O_EXCL``, a random name, so nothing planted can be followed), 0600, fsynced, then
  renames it over the target: a symlink at the target is *replaced*, its target never touched, and
  the new file is 0600 whatever the old one's mode was. ``overwrite=False`` refuses any existing
  entry (a link is created, which fails on a file or a symlink alike).
* :func:`read_private` opens with ``O_NOFOLLOW`` and refuses a symlink, a non-regular file or a
  file of another user; it tightens a looser mode to 0600.
* :func:`secure_sqlite_files` prepares a database that holds secrets: the file is created 0600
  (SQLite then creates its ``-wal``/``-shm``/``-journal`` with the same mode), existing files are
  brought to 0600, and a symlink in their place is refused.

* :func:`run_lock` holds an exclusive ``flock`` on ``<path>.lock`` (0600) for a run that must
  be alone on a journal (paying obligations, paying a deposit): a second run is refused with
  the caller's message; the kernel drops the lock when the process dies, even by SIGKILL.

New parent directories are created 0700. I/O edge: nothing in the pure core imports this.
"""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import PrivateFileError, ValidationError

PRIVATE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, data: str | bytes, *, overwrite: bool = True) -> None:
    """Atomically make ``path`` a 0600 file holding ``data`` (see the module docstring).

    ``overwrite=False``: PrivateFileError if anything (a file, a symlink) is already there.
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        raise PrivateFileError(f"{path} is a directory; move it away to write this file")
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), PRIVATE_MODE)
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)  # replaces a symlink itself, never what it points to
        else:
            os.link(tmp, path)  # EEXIST for a file or a (dangling) symlink alike
    except FileExistsError:
        raise PrivateFileError(f"{path} already exists; it was not overwritten") from None
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _open_checked(path: Path, flags: int) -> int:
    """An fd on ``path`` opened with O_NOFOLLOW: a regular file of ours, brought to 0600."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW)
    except OSError as exc:
        if path.is_symlink():
            raise PrivateFileError(
                f"{path} is a symlink; a file holding secrets must be a plain file here "
                "(remove the link, and check who could create it)"
            ) from None
        raise PrivateFileError(f"cannot open {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PrivateFileError(f"{path} is not a regular file")
        if info.st_uid != os.getuid():
            raise PrivateFileError(
                f"{path} belongs to user {info.st_uid}, not to us; a file holding secrets must be"
                " our own (remove it, and check who could create it)"
            )
        if stat.S_IMODE(info.st_mode) != PRIVATE_MODE:
            os.fchmod(fd, PRIVATE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_private(path: Path) -> str | None:
    """The text of ``path`` (None if it does not exist), refusing a symlink or another user's
    file; a looser mode is tightened to 0600."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return None
    fd = _open_checked(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        return handle.read().decode("utf-8")


def secure_sqlite_files(db_path: Path) -> None:
    """Before opening a database that holds secrets: create it 0600 if missing (its WAL/SHM then
    follow its mode), bring existing files to 0600, refuse symlinks in their place."""
    db_path = Path(db_path)
    db_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(db_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_MODE)
    except FileExistsError:
        fd = _open_checked(db_path, os.O_RDONLY)
    else:
        os.fchmod(fd, PRIVATE_MODE)  # whatever the umask
    os.close(fd)
    for suffix in SQLITE_SIDE_FILES:
        side = db_path.with_name(db_path.name + suffix)
        if side.exists() or side.is_symlink():
            os.close(_open_checked(side, os.O_RDONLY))


@contextmanager
def run_lock(path: Path, busy: str) -> Iterator[None]:
    """Hold the exclusive lock ``<path>.lock`` for the ``with`` block; ValidationError
    ``busy`` (naming the lock file after it) if another run holds it."""
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = _open_checked(lock, os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValidationError(f"{busy} (it holds {lock})") from None
        yield
    finally:
        os.close(fd)  # releases the lock
