"""Which processes are running, for tests that check a server and its stubs started or stopped."""

from __future__ import annotations

import os
from pathlib import Path

from components.core.runtime.state import process_command, process_info


def processes_using(folder: Path) -> list[int]:
    """Running processes whose command line mentions `folder` (a server and its Python backend stubs)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        command = process_command(int(entry))
        info = process_info(int(entry))
        if command and any(str(folder) in part for part in command) and info is not None and info.running:
            found.append(int(entry))
    return found


def servers_using(folder: Path) -> list[int]:
    """Running tritonserver processes whose command line mentions `folder` (not their stubs)."""
    return [pid for pid in processes_using(folder) if (process_command(pid) or ("",))[0].endswith("tritonserver")]
