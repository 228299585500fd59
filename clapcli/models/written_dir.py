"""Output directories clapcli writes whole (``clap convert``, ``clap export``, their copies under
``$CLAPCLI_HOME``), without ever destroying what clapcli did not write.

- OUT is refused when it is a file, holds the source the run reads (the checkpoint), or is (an
  ancestor of) the current directory.
- A non-empty OUT needs ``--overwrite``, and is replaced only when the writer's marker file (its
  manifest) lists every entry in it, each a regular file, or a subdirectory whose every file it
  lists as ``sub/file`` (a diffusers pipeline's components): a user's notes, a checkpoint stored
  inside, a link or an unlisted subdirectory make it refused, with one line naming the directory
  and the entry.
- The new directory is written into a sibling staging directory carrying the writer's pid, then
  swapped in: old aside, new in, then the old's listed files deleted. A failure leaves the old one.
- Staging and aside directories left by a killed run (their pid is gone) are removed by the next
  run writing the same OUT.
- The directory and its files get the permissions the umask gives (0755 / 0644 under umask 022).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clapcli.errors import OutputError
from clapcli.processes import pid_alive

STAGING, ASIDE = ".tmp", ".old"


@dataclass(frozen=True)
class Writer:
    """Who writes a kind of directory and how to recognize what it wrote there."""

    command: str  # "clap convert"
    marker: str  # its manifest's file name
    noun: str  # "a converted model": what an earlier run left there
    listed: Callable[[Path], set[str] | None]  # plain names it wrote into a folder (marker included), None: not its


def check_output(output: Path, writer: Writer, overwrite: bool, source: Path | None = None,
                 suggestion: Path | None = None) -> Path:
    """The resolved output directory, after refusing every OUT whose replacement could destroy a user file."""
    target = output.resolve()  # a symlinked OUT: what it points at is what gets replaced
    if target.exists() and not target.is_dir():
        raise OutputError(f"output '{output}' exists and is a file; pass a directory path")
    if source is not None and _holds(target, source):
        hint = f", e.g. '{suggestion}'" if suggestion else ""
        what = "checkpoint" if source.is_file() else "source model"
        raise OutputError(f"output directory '{output}' holds the {what} '{source}'; write to a new directory{hint}")
    cwd = Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        raise OutputError(
            f"output directory '{output}' is the current directory or holds it; write to a new directory"
        )
    if target.is_dir() and any(target.iterdir()):
        if writer.listed(target) is not None and not overwrite:
            raise OutputError(f"output directory '{output}' already holds {writer.noun}; add --overwrite to "
                              "replace it")
        check_replaceable(target, output, writer)
    return target


def _holds(target: Path, source: Path) -> bool:
    """Whether replacing ``target`` would touch ``source`` (a checkpoint file's folder, or the model directory)."""
    source = source.expanduser()
    homes = {path if path.is_dir() else path.parent for path in (source.absolute(), source.resolve())}
    return any(target == home or target in home.parents for home in homes)


def check_replaceable(target: Path, output: Path, writer: Writer) -> None:
    """``--overwrite`` replaces only what ``writer`` wrote: its marker and the files the marker lists."""
    written = writer.listed(target)
    if written is None:
        raise OutputError(
            f"output directory '{output}' is not empty and was not written by {writer.command} (no valid "
            f"{writer.marker}), so --overwrite cannot replace it: remove it yourself or choose another output "
            "directory"
        )
    for entry in sorted(target.iterdir()):
        stray = _stray(entry, entry.name, written)
        if stray is not None:
            raise OutputError(
                f"output directory '{output}' holds '{stray}', which {writer.command} did not write; "
                "remove it yourself or choose another output directory"
            )


def _stray(entry: Path, name: str, written: set[str]) -> str | None:
    """The first path under ``entry`` that ``written`` does not list (a subdirectory is ours only when every
    file in it is listed as ``dir/file``), or None."""
    if entry.is_symlink():
        return name
    if entry.is_file():
        return None if name in written else name
    if not entry.is_dir() or not any(listed.startswith(name + "/") for listed in written):
        return name
    for child in sorted(entry.iterdir()):
        stray = _stray(child, f"{name}/{child.name}", written)
        if stray is not None:
            return stray
    return None


def plain_names(names: object) -> set[str]:
    """The entries of a manifest's file list that name a file directly inside its folder."""
    if not isinstance(names, (list, dict)):
        return set()
    return {name for name in names if isinstance(name, str) and name not in ("", ".", "..") and "/" not in name
            and "\\" not in name}


def relative_names(names: object) -> set[str]:
    """The entries of a manifest's file list that name a file inside its folder or a subfolder ("vae/config.json"):
    relative, "/"-separated, with no empty, "." or ".." part."""
    if not isinstance(names, (list, dict)):
        return set()
    return {name for name in names if isinstance(name, str) and "\\" not in name
            and all(part not in ("", ".", "..") for part in name.split("/"))}


# ---------------------------------------------------------------- staging, swapping, leftovers


def staging_dir(target: Path) -> Path:
    """A new empty sibling of ``target`` to write into, named with this pid (leftovers of dead runs removed first)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    while True:
        staging = target.parent / _temp_name(target, STAGING)
        try:
            staging.mkdir(0o777)  # as mkdir makes any directory: the umask decides, not mkdtemp's 0700
            return staging
        except FileExistsError:
            continue


def _temp_name(target: Path, kind: str) -> str:
    return f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{kind}"


def follow_umask(folder: Path) -> None:
    """Give ``folder`` and everything in it the modes a new directory and file get under the umask (some
    libraries write their files 0600 through temporary files)."""
    mask = _umask()
    folder.chmod(0o777 & ~mask)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~mask)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(staging: Path, target: Path, output: Path, writer: Writer) -> None:
    """Old aside, new in, then delete the old: a failed rename puts the old directory back."""
    if not target.exists() or not any(target.iterdir()):
        _rename(staging, target)  # onto nothing or an empty directory (POSIX rename replaces it)
        return
    check_replaceable(target, output, writer)  # again: files may have appeared while writing
    aside = target.parent / _temp_name(target, ASIDE)
    _rename(target, aside)
    try:
        _rename(staging, target)
    except OSError:
        _rename(aside, target)
        raise
    remove_written(aside, writer)


def _rename(source: Path, destination: Path) -> None:
    os.rename(source, destination)  # a seam for tests that simulate a failing rename


def remove_written(folder: Path, writer: Writer | None) -> None:
    """Delete only the files ``writer``'s marker lists: anything that appeared meanwhile stays, with its folder."""
    listed = (writer.listed(folder) or set()) if writer else set()
    for name in listed:
        if _real_subfolders(folder, name):  # never through a link someone put in place of a subfolder
            (folder / name).unlink(missing_ok=True)
    # Subfolders the listed files lived in, deepest first; one holding anything else stays.
    parents = {str(parent) for name in listed for parent in Path(name).parents if str(parent) != "."}
    for sub in sorted(parents, key=len, reverse=True):
        try:
            (folder / sub).rmdir()
        except OSError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass


def _real_subfolders(folder: Path, name: str) -> bool:
    """Whether every folder on the way to ``folder / name`` is a real directory, not a link."""
    path = folder
    for part in name.split("/")[:-1]:
        path = path / part
        if path.is_symlink() or not path.is_dir():
            return False
    return True


def remove_stale(target: Path, writer: Writer | None = None) -> list[Path]:
    """Remove the staging directories (and the set-aside old copies) that a killed run left beside ``target``.

    Only those whose pid is gone: a staging directory is all ours (removed whole); an old copy loses only
    the files ``writer`` lists, as a completed swap would have done."""
    removed = []
    prefix = f".{target.name}."
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        kind = name[-len(STAGING):]
        pid = name[len(prefix):].split(".", 1)[0]
        if not name.startswith(prefix) or kind not in (STAGING, ASIDE) or not pid.isdigit() or pid_alive(int(pid)):
            continue
        leftover = target.parent / name
        if leftover.is_symlink() or not leftover.is_dir():
            continue
        if kind == STAGING:
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            remove_written(leftover, writer)
        if not leftover.exists():
            removed.append(leftover)
    return removed


