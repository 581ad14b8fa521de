"""`triton-groups demo` and `stop`: the local deployment without Pulumi (`make demo`, `make stop`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from processes import processes_using

from components.cli import main
from components.core.runtime import ServerRecord, is_serving

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vision"


@pytest.mark.triton
def test_make_demo_serves_and_smoke_tests_without_pulumi_and_make_stop_stops_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "demo"
    try:
        assert main(["demo", str(EXAMPLE / "group.yaml"), "--state-dir", str(state_dir)]) == 0
        shown = capsys.readouterr().out
        record = ServerRecord.load(state_dir)
        assert is_serving(record)
        assert f"  HTTP  {record.http_url}\n" in shown
        assert "PASS: 8/8 cases passed in 4 model(s)" in shown
        assert shown.rstrip().endswith(f"stop it with: triton-groups stop --state-dir {state_dir} (or make stop)")
        assert (state_dir / "artifacts" / "repository.zip").is_file()
    finally:
        assert main(["stop", "--state-dir", str(state_dir)]) == 0
    assert processes_using(state_dir) == []
