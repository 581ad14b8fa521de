"""The triton-groups policy pack (Pulumi CrossGuard): `pulumi preview --policy-pack policies`.

Mandatory on stacks whose config sets `triton-groups:production: true` (prod), advisory everywhere else, so a
development stack sees the warnings a production one would be refused for. The rules are in rules.py.
"""

import json
import os

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from rules import RESOURCE_RULES, promotion_names_a_release

CONFIG = json.loads(os.environ.get("PULUMI_CONFIG") or "{}")
PRODUCTION = str(CONFIG.get("triton-groups:production", "")).strip().lower() == "true"
LEVEL = EnforcementLevel.MANDATORY if PRODUCTION else EnforcementLevel.ADVISORY


def resource_policy(name, rule):
    def validate(args, report_violation):
        for message in rule(args.resource_type, args.props):
            report_violation(message)

    return ResourceValidationPolicy(name=name, description=rule.__doc__.splitlines()[0], validate=validate,
                                    enforcement_level=LEVEL)


def validate_stack(_args, report_violation):
    for message in promotion_names_a_release(CONFIG, PRODUCTION):
        report_violation(message)


PolicyPack(
    name="triton-groups",
    enforcement_level=LEVEL,
    policies=[
        *(resource_policy(name, rule) for name, rule in RESOURCE_RULES.items()),
        StackValidationPolicy(name="promotion-names-a-release", description=promotion_names_a_release.__doc__,
                              validate=validate_stack, enforcement_level=LEVEL),
    ],
)
