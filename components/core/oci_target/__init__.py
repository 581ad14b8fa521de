"""OCI Data Science, the pure half: stack settings, pre-flight checks, the Triton container and its image.

Nothing here calls OCI or imports Pulumi: the Pulumi layer (components/oci/) reads the stack config, calls
`read_settings` and `preflight`, and wires the resources from `triton_command`, `container_environment`,
`render_dockerfile` and `resource_names`.
"""
