"""Rules on what the user pointed at: a repository folder that holds models, a spec whose smoke cases can be built.

These catch the input that is not what the command needs before anything is built or started: an empty
folder, the folder of a group spec given instead of the spec, a smoke .npy file that is not an array.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.core.plan import CONFIG_NAME, RepositoryPlan
from components.core.problems import Problem, UserError

if TYPE_CHECKING:
    from components.core.spec import GroupSpec

SPEC_SUFFIXES = (".yaml", ".yml")


def check_repository_folder(plan: RepositoryPlan) -> list[Problem]:
    """A folder read as a repository holds model folders; one holding a group spec but no config was meant as a spec.

    A folder whose model folders could not be read is not called empty: the plan's problems say why.
    """
    if plan.spec is not None or any(CONFIG_NAME in model.files for model in plan.models.values()):
        return []
    found = plan.origin.iterdir() if plan.origin.is_dir() else iter(())
    specs = sorted(path.name for path in found if path.suffix in SPEC_SUFFIXES and path.is_file())
    if specs:
        return [Problem(str(plan.origin), "", f"is not a Triton model repository (no <model>/{CONFIG_NAME} in it) "
                        f"but holds {', '.join(specs)}; give the group spec file instead of its folder",
                        "repository.spec_folder")]
    if not plan.models and not plan.problems:
        return [Problem(str(plan.origin), "", "holds no model folder; a Triton model repository has one folder per "
                        f"model, each with a {CONFIG_NAME} and version folders (1/, 2/, ...)", "repository.empty")]
    return []


def check_smoke_cases(spec: GroupSpec) -> list[Problem]:
    """Every smoke case can be built as `triton-groups smoke` will: .npy files read, values converted, shapes fit."""
    from components.core.smoke.cases import prepare_cases  # numpy: only when a spec has cases

    problems: list[Problem] = []
    for model in spec.models:
        try:
            prepare_cases(spec, model)
        except UserError as exc:
            problems += exc.problems
    return problems
