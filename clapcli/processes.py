"""Whether a process is alive: temporary files and staging directories carry their writer's pid, and a
later run removes those whose writer is gone (``io.target``, ``models.written_dir``)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one we may not signal counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
