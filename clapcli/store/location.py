"""Where the default library lives, and its one-time move out of the cache.

The default library is ``library.db`` in ``settings.data_home()`` (the platform's data folder, or
``$CLAPCLI_HOME`` when set). It used to be ``~/.cache/clapcli/library.db``, which cache cleaners
delete. On first use, when ``CLAPCLI_HOME`` is unset, the new file does not exist and the old one
does, the old one is moved once: renamed on the same filesystem; otherwise copied to a temporary
file beside the target, synced, published by a hard link (never over a file that appeared
meanwhile) and only then removed. The old file is never touched before the new one is complete: a
failure leaves it as it was, says so, and the run uses it where it is.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
from pathlib import Path

from clapcli import settings

log = logging.getLogger("clapcli.store")
LIBRARY_NAME = "library.db"


def default_db_path() -> Path:
    """``library.db`` in the data folder (``$CLAPCLI_HOME`` when set), moved there from the cache once."""
    target = settings.data_home() / LIBRARY_NAME
    if not settings.data_home_is_default() or target.exists():
        return target
    old = Path(settings.LEGACY_HOME).expanduser() / LIBRARY_NAME
    if not old.is_file() or _same_file(old, target):
        return target
    try:
        move_library(old, target)
    except OSError as exc:
        log.warning("could not move the library %s to %s (%s); it is left untouched and used where it is",
                    old, target, exc.strerror or exc)
        return old
    log.info("moved the library from %s to %s (out of the cache, which cache cleaners empty)", old, target)
    return target


def _same_file(old: Path, target: Path) -> bool:
    try:
        return old.resolve() == target.resolve()
    except OSError:
        return False


def move_library(old: Path, target: Path) -> None:
    """Move the SQLite file ``old`` to ``target`` (which must not exist), losing nothing on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _checkpoint(old)  # a -wal left by a killed writer holds rows the main file has not got yet
    if target.exists():
        raise FileExistsError(errno.EEXIST, "the new library file exists already", str(target))
    try:
        os.rename(old, target)  # same filesystem: one step, nothing copied
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_then_publish(old, target)
        _sync_dir(target.parent)
        try:
            old.unlink()
        except OSError as error:  # moved all the same: the new file is complete and is the one used
            log.warning("the library is now %s; the old copy %s could not be removed (%s): delete it yourself",
                        target, old, error.strerror or error)
            return
    else:
        _sync_dir(target.parent)
    for suffix in ("-wal", "-shm"):  # empty after the checkpoint; SQLite makes new ones beside the target
        old.with_name(old.name + suffix).unlink(missing_ok=True)


def _checkpoint(path: Path) -> None:
    if not path.with_name(path.name + "-wal").exists():
        return
    try:
        connection = sqlite3.connect(path)
        try:
            busy = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise OSError(f"cannot fold its -wal file in: {exc}") from None
    if busy:
        raise OSError("another clapcli is using it; rerun when it has finished")


def _copy_then_publish(old: Path, target: Path) -> None:
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(old, "rb") as source, open(temp, "xb") as copy:
            shutil.copyfileobj(source, copy, 1 << 20)
            copy.flush()
            os.fsync(copy.fileno())
        shutil.copymode(old, temp)
        _publish(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _publish(temp: Path, target: Path) -> None:
    """``temp`` becomes ``target``: a hard link, which never replaces a file that took the name
    meanwhile; a rename where the filesystem has no hard links."""
    try:
        os.link(temp, target)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOSPC, errno.EIO):
            raise
        if target.exists():
            raise FileExistsError(errno.EEXIST, "the new library file exists already", str(target)) from None
        os.rename(temp, target)


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not openable as a file (Windows): the rename is as durable as the system makes it
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
