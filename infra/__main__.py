"""The Pulumi program of triton-groups: deploys the stack's group to the target its config names.

Stack config (namespace `triton-groups`): `target` is `local` (a tritonserver on this machine,
components.local) or `oci` (OCI Data Science, components.oci); each target reads its own settings.
The target's function returns the stack outputs: at least `endpoint` and `smoke_summary`.
"""

import signal
import sys

import pulumi

from components.core.stack_settings import CONFIG_NAMESPACE, TARGETS


def _stop_quietly(_signum: int, _frame: object) -> None:
    """The engine interrupts the program when the deployment stops (an error elsewhere, Ctrl-C): the engine has
    said why, so the program ends without adding a KeyboardInterrupt traceback of its own."""
    sys.exit(1)


signal.signal(signal.SIGINT, _stop_quietly)

config = pulumi.Config()
target = config.get("target")
if target == "local":
    from components.local.program import deploy_local

    outputs = deploy_local(config)
elif target == "oci":
    from components.oci.program import deploy_oci

    outputs = deploy_oci(config)
else:
    given = "is not set" if target is None else f"is {target!r}"
    raise pulumi.RunError(
        f"stack config {CONFIG_NAMESPACE}:target {given}; set it to one of {', '.join(TARGETS)} in "
        f"stacks/Pulumi.{pulumi.get_stack()}.yaml"
    )
for name, value in (outputs or {}).items():
    pulumi.export(name, value)
