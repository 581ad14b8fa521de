"""Release files: made from a stack's outputs, read back, compared with a build, and refused when bad."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.cli import main
from components.core.problems import UserError
from components.core.release import Built, PassedOn, Release, ReleaseArtifact, check_promotion, load_release

SHA_A, SHA_B, SHA_R, SHA_C, SHA_Z = ("a" * 64, "b" * 64, "1" * 64, "c" * 64, "2" * 64)


def stack_outputs(**changes: Any) -> dict[str, Any]:
    """Outputs as `pulumi stack output --json` prints them for a local stack whose smoke test passed."""
    outputs = {
        "group": "vision",
        "repository_sha256": SHA_R,
        "modelContent": {"pre": {"1/model.py": SHA_A, "config.pbtxt": SHA_B}},
        "artifacts": [{"name": "repository", "layout": "single", "path": "x/repository.zip", "sha256": SHA_Z,
                       "size": 10, "models": ["pre"]}],
        "smoke_report": {"passed": True},
        "smoke_passed": {"repository_sha256": SHA_R, "cases_sha256": SHA_C, "passed_at": "2026-12-01T10:00:00+00:00"},
    }
    outputs.update(changes)
    return outputs


HISTORY = [{"kind": "update", "result": "succeeded", "version": 7}, {"kind": "update", "result": "failed"}]


def release() -> Release:
    return Release.from_stack("dev", "triton-groups", stack_outputs(), HISTORY)


def test_a_release_records_what_the_stack_passed_with_and_round_trips(tmp_path: Path) -> None:
    made = release()
    assert made.passed == PassedOn("dev", "triton-groups", 7, "2026-12-01T10:00:00+00:00")
    assert made.artifacts == (ReleaseArtifact("single", "repository", SHA_Z, 10, ("pre",)),)
    assert made.name == "vision-111111111111"

    made.save(tmp_path / "releases" / "r.json")

    assert load_release(tmp_path / "releases" / "r.json") == made


@pytest.mark.parametrize(
    ("history", "outputs", "message"),
    [
        ([{"kind": "update", "result": "failed", "version": 8}, *HISTORY], stack_outputs(),
         "stack dev: its last update (version 8) failed: its smoke test did not pass"),
        (HISTORY, stack_outputs(smoke_report={"passed": False}), "stack dev: smoke_passed: records no passing"),
        (HISTORY, stack_outputs(repository_sha256=SHA_A), f"stack dev: smoke_passed: its smoke test passed on "
                                                          f"repository {SHA_R}, but it serves {SHA_A}"),
        ([], stack_outputs(), "stack dev: has never been updated"),
    ],
    ids=["last-update-failed", "smoke-failed", "inconsistent", "never-updated"],
)
def test_a_stack_that_did_not_pass_gives_no_release(history: list, outputs: dict, message: str) -> None:
    with pytest.raises(UserError) as refused:
        Release.from_stack("dev", "triton-groups", outputs, history)
    assert str(refused.value).startswith(message)


def test_a_build_that_differs_names_the_model_the_file_and_both_sha256s() -> None:
    built = Built("vision", {"pre": {"1/model.py": SHA_B, "config.pbtxt": SHA_B}}, SHA_R)

    problems = check_promotion(release(), built, "releases/r.json", promotes_from="dev")

    assert [str(p) for p in problems] == [
        f"releases/r.json: models.pre: model pre: 1/model.py has sha256 {SHA_B}, the release has {SHA_A}"
    ]


def test_the_same_bytes_pass_and_another_source_stack_or_group_is_refused() -> None:
    same = Built("vision", {"pre": {"1/model.py": SHA_A, "config.pbtxt": SHA_B}}, SHA_R)
    assert check_promotion(release(), same, "r.json", promotes_from="dev") == []
    assert [p.code for p in check_promotion(release(), same, "r.json", promotes_from="staging")] == [
        "release.wrong_stack"]
    other = Built("audio", same.content, SHA_R)
    assert [p.code for p in check_promotion(release(), other, "r.json", promotes_from=None)] == ["release.other_group"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not valid JSON"),
        (json.dumps(release().to_json())[:-40], "is not valid JSON (truncated?)"),
        (json.dumps({"format": "something/else"}), "format: is 'something/else', not 'triton-groups.release/1'"),
        (json.dumps({**release().to_json(), "repository_sha256": "abc"}), "repository_sha256: is 'abc', not a sha256"),
        (json.dumps({**release().to_json(), "passed": {"stack": "dev"}}), "passed.project: is missing"),
    ],
    ids=["malformed", "truncated", "not-a-release", "bad-sha", "missing-field"],
)
def test_a_bad_release_file_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)

    code = main(["release", "show", str(path)])

    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(f"{path}: ")
    assert message in err


def test_release_show_prints_it_plainly_and_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.json"
    release().save(path)

    assert main(["release", "show", str(path)]) == 0
    shown = capsys.readouterr().out
    assert shown.splitlines()[:2] == ["release vision-111111111111 of group vision",
                                      "  passed on stack dev (project triton-groups, update 7) at "
                                      "2026-12-01T10:00:00+00:00"]
    assert f"    1/model.py  {SHA_A}" in shown
    assert main(["release", "show", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == release().to_json()
