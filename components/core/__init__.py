"""The pure core of triton-groups: nothing here imports Pulumi.

spec (the model-group description), render (spec to Triton's ModelConfig), plan (the repository as
a list of files), validate (Triton's load-time rules), package (reproducible zips), runtime (a
local tritonserver) and smoke (inference smoke tests).
"""
