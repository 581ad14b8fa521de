"""A smoke report as JUnit XML, so that CI systems (GitHub, GitLab, Jenkins) show each smoke case as a test.

It reads the report's JSON form (`SmokeReport.to_json()`, which the stacks also export as `smoke_report`), so
the same function serves `triton-groups smoke --junit FILE` and a report taken from a stack's outputs.

Layout: one <testsuite> per model (classname `<group>.<model>`), one <testcase> per smoke case with its p50
latency as the time, a <failure> per failing output. A model that never became ready or went over its latency
budget gets a testcase of its own (`model is ready`, `p99 latency within budget`), so the failure is counted;
a server that never answered is one failing testcase. Times are in seconds, as JUnit has them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

READY_CASE = "model is ready"
BUDGET_CASE = "p99 latency within budget"


def _seconds(latency: Mapping[str, Any] | None) -> str:
    p50 = (latency or {}).get("p50")
    return f"{(p50 or 0.0) / 1000:.6f}"


def _case(suite: ET.Element, classname: str, name: str, time: str, failures: list[tuple[str, str]]) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time=time)
    for message, detail in failures:
        failure = ET.SubElement(case, "failure", message=message, type="SmokeFailure")
        failure.text = detail


def _model_suite(root: ET.Element, group: str, model: Mapping[str, Any]) -> None:
    classname = f"{group}.{model['model']}"
    suite = ET.SubElement(root, "testsuite", name=classname)
    if not model.get("ready", True):
        reason = model.get("not_ready") or "not ready"
        _case(suite, classname, READY_CASE, "0", [(f"not ready: {reason}", reason)])
    for case in model.get("cases", []):
        failures = [
            (f"output {f['output']}: {f['reason']}" if f.get("output") else f["reason"], f["reason"])
            for f in case.get("failures", [])
        ]
        _case(suite, classname, case["case"], _seconds(case.get("latency_ms")), failures)
    if model.get("over_budget"):
        p99 = (model.get("latency_ms") or {}).get("p99")
        message = f"p99 latency {p99} ms exceeds the budget"
        _case(suite, classname, BUDGET_CASE, _seconds(model.get("latency_ms")), [(message, message)])
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for case in cases if case.find("failure") is not None)))
    suite.set("errors", "0")
    suite.set("time", f"{sum(float(case.get('time', '0')) for case in cases):.6f}")


def junit_xml(report: Mapping[str, Any]) -> str:
    """The JUnit XML document (UTF-8 text) for `report`, a SmokeReport's JSON form."""
    group = str(report.get("group") or "group")
    root = ET.Element("testsuites", name=f"smoke tests of {group}")
    if report.get("server_error"):
        suite = ET.SubElement(root, "testsuite", name=group, tests="1", failures="1", errors="0", time="0")
        _case(suite, group, "server answers", "0", [(report["server_error"], report["server_error"])])
    for model in report.get("models", []):
        _model_suite(root, group, model)
    suites = root.findall("testsuite")
    root.set("tests", str(sum(int(suite.get("tests", "0")) for suite in suites)))
    root.set("failures", str(sum(int(suite.get("failures", "0")) for suite in suites)))
    root.set("errors", "0")
    root.set("time", f"{float(report.get('wall_time_s') or 0.0):.6f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
