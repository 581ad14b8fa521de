"""`triton-groups validate` survives generated specs and config.pbtxt files: exit 0 or 1, never a traceback, a hang
or a large allocation (the properties are in tests/fuzz_inputs.py).

Each property runs in a subprocess limited to MEMORY_LIMIT bytes of address space and TIMEOUT_S seconds, with a
fixed seed (derandomized) so that a failure is reproduced by running the test again.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz_inputs import PROPERTIES

TESTS = Path(__file__).resolve().parent
MEMORY_LIMIT = 3 << 30
TIMEOUT_S = 120
RUN = "import sys\nfrom fuzz_inputs import PROPERTIES\nPROPERTIES[sys.argv[1]]()\n"


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_validate_never_fails_with_a_traceback_a_hang_or_unbounded_memory(name: str) -> None:
    result = subprocess.run([sys.executable, "-c", RUN, name], capture_output=True, text=True, timeout=TIMEOUT_S,
                            preexec_fn=limited, cwd=TESTS,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])})

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
