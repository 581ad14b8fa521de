"""The OCI Data Science layer: Pulumi components that wire OCI resources around the pure core.

`TritonImage` (the server image in OCIR), `CatalogModel` (one model-catalog entry per artifact),
`HeterogeneousModelGroup` (catalog models joined in a HETEROGENEOUS model group),
`TritonModelDeployment` (the model deployment serving them with Triton) and `deploy_oci(config)`,
the `target: oci` program that builds the whole graph from a spec and the stack config.
"""
