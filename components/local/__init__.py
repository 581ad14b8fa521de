"""The local target: a group built, served by a real tritonserver on this machine, and smoke-tested, with Pulumi."""
