"""The model-group spec: one YAML file describing a heterogeneous group of Triton models.

Load it with `load_spec(path)`; every problem in the file is reported at once as a `Problem` with
`file:line: field.path: message`: field errors, the cross-field rules of each object (`rules.RuledModel`)
and the checks across models (`checks`) on the models that did validate, all in one run. Paths inside the spec
are relative to the spec file and are resolved with `GroupSpec.resolve`. `GroupSpec.model_json_schema()`
is what `triton-groups schema` prints.

The package: `models` (the objects), `rules` (the framework of strict models and cross-field rules), `checks`
(what one field alone cannot say: unique names, usable paths, links) and `loader` (reading the file). Callers
import from here.
"""

from components.core.spec.loader import field_path, load_spec
from components.core.spec.models import (
    MAX_SPEC_BYTES,
    DynamicBatchingSpec,
    GroupSpec,
    InputSpec,
    MatchKind,
    ModelSpec,
    OutputSpec,
    QueuePolicySpec,
    SmokeCase,
    SmokeExpectation,
    SmokeInput,
    SmokeSettings,
)

__all__ = [
    "MAX_SPEC_BYTES",
    "DynamicBatchingSpec",
    "GroupSpec",
    "InputSpec",
    "MatchKind",
    "ModelSpec",
    "OutputSpec",
    "QueuePolicySpec",
    "SmokeCase",
    "SmokeExpectation",
    "SmokeInput",
    "SmokeSettings",
    "field_path",
    "load_spec",
]
