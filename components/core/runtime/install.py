"""A runnable copy of the tritonserver shipped in the nvidia-pytriton wheel, and the environment it needs.

The wheel ships `pytriton/tritonserver/` (binary, Python backend, local cache) and one Python backend
stub per Python version. Triton looks for the stub only beside `libtriton_python.so`, so the server
is copied once per (pytriton version, Python major.minor) into a cache folder with the right stub in
`backends/python/`. The copy is made in a temporary folder and renamed into place; a copy that
already exists is reused and never replaced, because a running server may be using it.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

from components.core.problems import Problem, UserError

PYTRITON_DISTRIBUTION = "nvidia-pytriton"
CACHE_ENV = "TRITON_GROUPS_CACHE_DIR"
STUB_NAME = "triton_python_backend_stub"
COMPLETE_MARKER = ".complete"


@dataclass(frozen=True)
class TritonInstall:
    """A prepared tritonserver copy: where its binary, backends and caches are, and its version label."""

    root: Path
    version: str

    @property
    def binary(self) -> Path:
        return self.root / "bin" / "tritonserver"

    @property
    def backend_directory(self) -> Path:
        return self.root / "backends"

    @property
    def cache_directory(self) -> Path:
        return self.root / "caches"


def cache_root() -> Path:
    """Where server copies are kept: $TRITON_GROUPS_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache, /triton-groups."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "triton-groups"


def pytriton_root() -> Path:
    """The site-packages folder that holds `pytriton/` and `nvidia_pytriton.libs/`."""
    try:
        import pytriton
    except ImportError:
        raise UserError(Problem(
            "", "", f"{PYTRITON_DISTRIBUTION} is not installed in {sys.prefix}; it ships the local tritonserver "
            f"(pip install {PYTRITON_DISTRIBUTION})", "runtime.no_tritonserver",
        )) from None
    return Path(pytriton.__file__).resolve().parent.parent


def python_tag() -> str:
    """The running Python's major.minor, which selects the backend stub."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def prepare_install(root: Path | None = None) -> TritonInstall:
    """The server copy for this pytriton and Python version, made under `root` (default `cache_root()`) if missing.

    Safe to call from several processes at once: each builds its own temporary copy and the first
    rename wins; the others discard theirs.
    """
    version = f"{importlib.metadata.version(PYTRITON_DISTRIBUTION)}-py{python_tag()}"
    target = (root or cache_root()) / "tritonserver" / version
    if (target / COMPLETE_MARKER).is_file():
        return TritonInstall(target, version)
    source = pytriton_root() / "pytriton" / "tritonserver"
    stub = source / "python_backend_stubs" / python_tag() / STUB_NAME
    if not stub.is_file():
        raise UserError(Problem(
            "", "", f"{PYTRITON_DISTRIBUTION} has no Python backend stub for Python {python_tag()} ({stub}); "
            "use a Python version it ships a stub for (3.8 to 3.13)", "runtime.no_stub",
        ))
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", suffix=".tmp", dir=target.parent))
    try:
        copy = staging / "tritonserver"
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("python_backend_stubs", "__pycache__"))
        shutil.copy2(stub, copy / "backends" / "python" / STUB_NAME)
        (copy / COMPLETE_MARKER).write_text(f"{version}\n")
        try:
            os.rename(copy, target)
        except OSError:
            if not (target / COMPLETE_MARKER).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return TritonInstall(target, version)


def server_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment tritonserver and its Python stubs need, on top of `base` (default os.environ).

    LD_LIBRARY_PATH gets the wheel's bundled libraries and libpython's folder; PATH starts with the
    running interpreter's folder, because each stub takes its Python (and numpy) from PATH.
    """
    env = dict(os.environ if base is None else base)
    libraries = [str(pytriton_root() / "nvidia_pytriton.libs"), str(sysconfig.get_config_var("LIBDIR"))]
    if env.get("LD_LIBRARY_PATH"):
        libraries.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(libraries)
    interpreter_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([interpreter_bin, *(p for p in env.get("PATH", "").split(os.pathsep) if p)])
    return env
