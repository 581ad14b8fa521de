"""Smoke reports as JUnit XML: `smoke --junit FILE`, and `junit REPORT_JSON --out FILE` for a stack's report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_cli_smoke import server, write_spec  # noqa: F401  (the module's tritonserver fixture)

from components.cli import main
from components.core.runtime import LocalServer
from components.core.smoke.junit import BUDGET_CASE, READY_CASE, junit_xml
from components.core.smoke.report import CaseResult, Failure, ModelResult, SmokeReport


def report_with_every_outcome() -> SmokeReport:
    """A passing model, a failing case, a model never ready and one over its latency budget."""
    return SmokeReport(
        endpoint="http://127.0.0.1:8000",
        group="vision",
        models=(
            ModelResult("good", (CaseResult("good", "zeros", (), (2.0, 4.0)),)),
            ModelResult("wrong", (CaseResult("wrong", "ones", (Failure("1 of 3 elements differ", "Y"),), (1.0,)),
                                  CaseResult("wrong", "twos", (), (1.0,)))),
            ModelResult("absent", not_ready="failed to load: no model.py"),
            ModelResult("slow", (CaseResult("slow", "big", (), (50.0,)),), latency_budget_ms=10.0),
        ),
        wall_time_s=1.5,
    )


def test_each_case_is_a_testcase_and_each_failure_a_failure_element() -> None:
    root = ET.fromstring(junit_xml(report_with_every_outcome().to_json()))

    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("time")) == ("6", "3", "1.500000")
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert list(suites) == ["vision.good", "vision.wrong", "vision.absent", "vision.slow"]
    good = suites["vision.good"].find("testcase")
    assert (good.get("classname"), good.get("name"), good.get("time")) == ("vision.good", "zeros", "0.002000")
    assert good.find("failure") is None
    ones, twos = suites["vision.wrong"].findall("testcase")
    assert ones.find("failure").get("message") == "output Y: 1 of 3 elements differ"
    assert twos.find("failure") is None
    assert suites["vision.wrong"].get("failures") == "1" and suites["vision.wrong"].get("tests") == "2"
    absent = suites["vision.absent"].find("testcase")
    assert absent.get("name") == READY_CASE
    assert absent.find("failure").get("message") == "not ready: failed to load: no model.py"
    slow_cases = [case.get("name") for case in suites["vision.slow"].findall("testcase")]
    assert slow_cases == ["big", BUDGET_CASE]
    assert suites["vision.slow"].find(f"testcase[@name='{BUDGET_CASE}']/failure") is not None


def test_a_server_that_never_answered_is_one_failing_testcase() -> None:
    report = SmokeReport(endpoint="http://127.0.0.1:1", group="g", server_error="connection refused")

    root = ET.fromstring(junit_xml(report.to_json()))

    assert (root.get("tests"), root.get("failures")) == ("1", "1")
    assert root.find("testsuite/testcase/failure").get("message") == "connection refused"


def test_the_junit_command_converts_a_stack_report_and_refuses_what_is_not_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "smoke_report.json"
    source.write_text(json.dumps(report_with_every_outcome().to_json()))
    target = tmp_path / "junit.xml"

    assert main(["junit", str(source), "--out", str(target)]) == 0
    assert ET.parse(target).getroot().get("tests") == "6"
    assert capsys.readouterr().out == f"{target}: 4 model(s), FAILED\n"

    source.write_text('{"truncated": ')
    assert main(["junit", str(source), "--out", str(target)]) == 1
    assert capsys.readouterr().err.startswith(f"{source}: is not JSON (")
    source.write_text('{"endpoint": "x"}')
    assert main(["junit", str(source), "--out", str(target)]) == 1
    assert capsys.readouterr().err.startswith(f"{source}: is not a smoke report")


@pytest.mark.triton
def test_smoke_with_junit_writes_the_run_as_junit_xml(server: LocalServer, tmp_path: Path,  # noqa: F811
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out" / "smoke.xml"

    code = main(["smoke", str(write_spec(tmp_path, expected="[3, 6, 10]")), "--url", server.http_url,
                 "--junit", str(target)])

    assert code == 1
    case = ET.parse(target).getroot().find("testsuite/testcase")
    assert (case.get("classname"), case.get("name")) == ("cli.triple", "three")
    assert case.find("failure").get("message").startswith("output Y: 1 of 3 elements differ")
