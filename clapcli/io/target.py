"""Where an output file goes, and how it is published without destroying anything.

- A regular file is written to a temporary file beside it, created when the first byte is ready,
  and published only when complete. Without ``--overwrite`` nothing existing is replaced, not even
  a file that appeared while the run was going: publishing is a hard link, which fails if the name
  is taken (then the results are kept under a visible name and the message says where).
- With ``--overwrite`` only a regular file is replaced, by rename. A symbolic link is followed:
  the file it points to is replaced and the link stays. A character device or FIFO
  (``/dev/null``, ``/dev/stdout``) is written to directly, never replaced.
- On a write error (a full disk) the temporary file is removed and nothing is published.
- Temporary files carry the writer's pid; those left by a killed run are removed by the next run
  that writes the same output.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path
from typing import IO, Any

from clapcli.errors import OutputError
from clapcli.processes import pid_alive

TEMP_SUFFIX = ".part"


def os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


class OutputFile:
    """One output file. ``handle`` opens it lazily; ``commit`` publishes, ``discard`` removes."""

    def __init__(self, path: str | Path, overwrite: bool, binary: bool, label: str = "--output") -> None:
        self.requested = Path(path)
        self.overwrite = overwrite
        self.binary = binary
        self.label = f"{label} {self.requested}"
        self.direct, self.target, self._mode = self._inspect()
        self.temp: Path | None = None
        self._handle: IO[Any] | None = None
        self.done = False
        if not self.direct:
            remove_stale_temps(self.target)

    # ------------------------------------------------------------ checks

    def _inspect(self) -> tuple[bool, Path, int | None]:
        """(write directly?, the real path to publish to, the mode of the file it replaces)."""
        path = self.requested
        try:
            info = os.stat(path)  # follows symbolic links
        except FileNotFoundError:
            if path.is_symlink():
                raise OutputError(f"{self.label} is a symbolic link to a missing file; remove it or give another "
                                  "name") from None
            _check_parent(path, self.label)
            return False, path, None
        except OSError as exc:
            raise OutputError(f"{self.label}: cannot be inspected ({os_reason(exc)})") from None
        if stat.S_ISDIR(info.st_mode):
            raise OutputError(f"{self.label} is a directory; give a file name")
        if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
            return True, path, None
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(f"{self.label} is neither a regular file, a character device nor a FIFO; "
                              "give another name")
        if not self.overwrite:
            raise OutputError(f"{self.label} already exists; pass --overwrite to replace it")
        real = Path(os.path.realpath(path))
        _check_parent(real, self.label)
        return False, real, stat.S_IMODE(info.st_mode)

    # ------------------------------------------------------------ writing

    @property
    def handle(self) -> IO[Any]:
        if self._handle is None:
            self._handle = self._open()
        return self._handle

    @property
    def opened(self) -> bool:
        return self._handle is not None

    def _open(self) -> IO[Any]:
        if self.direct:
            return open(self.requested, "wb" if self.binary else "w", **self._text_args())
        name = f".{self.target.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
        temp = self.target.with_name(name)
        try:
            # O_EXCL: never write into a file someone else made; 0o666 & ~umask as any new file gets.
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise OutputError(f"{self.label}: cannot create a file in '{self.target.parent}' ({os_reason(exc)})"
                              ) from None
        self.temp = temp
        if self._mode is not None:
            os.chmod(temp, self._mode)  # a replaced file keeps its permissions
        return os.fdopen(fd, "wb" if self.binary else "w", **self._text_args())

    def _text_args(self) -> dict:
        return {} if self.binary else {"encoding": "utf-8", "newline": ""}

    def write_failed(self, exc: OSError) -> OutputError:
        """Remove what was written and say why (a full disk, a vanished directory...)."""
        self.discard()
        return OutputError(f"{self.label}: could not write ({os_reason(exc)}); nothing was written")

    # ------------------------------------------------------------ finishing

    def commit(self) -> Path:
        """Publish the complete file; returns where the results are."""
        if self.done:
            return self.target
        handle = self.handle  # an empty output is still an output (a header, "[]")
        try:
            handle.flush()
            if not self.direct:
                os.fsync(handle.fileno())
            handle.close()
        except OSError as exc:
            raise self.write_failed(exc) from None
        self.done = True
        if self.direct:
            return self.requested
        assert self.temp is not None
        if self.overwrite:
            os.replace(self.temp, self.target)
            return self.target
        return self._publish_without_replacing()

    def _publish_without_replacing(self) -> Path:
        assert self.temp is not None
        try:
            _link_or_rename(self.temp, self.target)
            return self.target
        except FileExistsError:
            kept = _free_name(self.target)
            _link_or_rename(self.temp, kept)
            raise OutputError(
                f"{self.label} appeared while this run was writing (another process?) and was left as it is; "
                f"the results are in {kept}"
            ) from None

    def discard(self) -> None:
        """Close and remove the temporary file (nothing is published)."""
        self.done = True
        if self._handle is not None:
            try:
                self._handle.close()
            except OSError:
                pass  # a full disk can fail the final flush too; the file goes anyway
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)


def _check_parent(path: Path, label: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{label}: directory '{parent}' does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{label}: directory '{parent}' is not writable")


def _link_or_rename(temp: Path, final: Path) -> None:
    """Move ``temp`` to ``final`` unless ``final`` exists (FileExistsError)."""
    try:
        os.link(temp, final)  # atomic and exclusive: fails if the name is taken
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # A filesystem without hard links (FAT, some FUSE): check, then rename (a small race).
        if os.path.lexists(final):
            raise FileExistsError(errno.EEXIST, "exists", str(final)) from None
        os.rename(temp, final)
        return
    temp.unlink()


def _free_name(path: Path) -> Path:
    for number in range(1, 10_000):
        candidate = path.with_name(f"{path.stem}.{number}{path.suffix}")
        if not os.path.lexists(candidate):
            return candidate
    raise OutputError(f"no free name beside {path}")


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove temporary files that a killed run left beside ``target`` (their pid is gone)."""
    removed = []
    prefix = f".{target.name}."
    try:
        names = os.listdir(target.parent if str(target.parent) else ".")
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(TEMP_SUFFIX)):
            continue
        pid = name[len(prefix):-len(TEMP_SUFFIX)].split(".", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            stale = target.with_name(name)
            try:
                stale.unlink()
                removed.append(stale)
            except OSError:
                pass
    return removed


__all__ = ["OutputFile", "os_reason", "remove_stale_temps"]
