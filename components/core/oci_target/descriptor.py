"""The descriptor zip of an artifact uploaded through Object Storage, and the object it names.

pulumi-oci requires an inline artifact on every catalog Model, so a Model whose zip goes through a bucket is
created with this small zip (one JSON naming the object and the artifact's sha256), which the export then
replaces. Its bytes follow from the artifact and the bucket alone, so the catalog component knows its path and
size without writing anything, and the repository provider (`providers.repository`) writes it beside the
artifact when it builds, or again when a fresh runner lacks it (`ensure_artifacts`).

`artifact` is an entry of `TritonModelRepository.artifacts`: `{name, path, sha256, size, models}`.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components._internal.atomic import write_bytes_atomic

OBJECT_PREFIX = "triton-groups"
"""The folder of the bucket the artifacts are uploaded to."""
DESCRIPTOR_NAME = "triton-groups-artifact.json"
DESCRIPTOR_SUFFIX = ".descriptor.zip"

Route = Mapping[str, str]
"""Where an artifact is uploaded: {"bucket": ..., "prefix": ...} (the prefix defaults to `OBJECT_PREFIX`)."""


def object_name(artifact: Mapping[str, Any], prefix: str = OBJECT_PREFIX) -> str:
    """Objects are named by content, so a new artifact is a new object and an old one is never overwritten."""
    return f"{prefix}/{artifact['name']}-{artifact['sha256']}.zip"


def descriptor_name(artifact: Mapping[str, Any]) -> str:
    """The descriptor's file name carries the artifact's sha256: the Model's content identity on this route."""
    return f"{artifact['name']}-{str(artifact['sha256'])[:16]}{DESCRIPTOR_SUFFIX}"


def descriptor_path(artifact: Mapping[str, Any]) -> str:
    """Where the descriptor lives: beside the artifact, in the same path form as the artifact's `path`."""
    return str(Path(str(artifact["path"])).with_name(descriptor_name(artifact)))


def descriptor_bytes(artifact: Mapping[str, Any], route: Route) -> bytes:
    """The descriptor zip: the same bytes for the same artifact and bucket, on any machine."""
    body = json.dumps(
        {
            "artifact": artifact["name"],
            "sha256": artifact["sha256"],
            "size": int(artifact["size"]),
            "models": sorted(artifact["models"]),
            "object": object_name(artifact, route.get("prefix", OBJECT_PREFIX)),
            "bucket": route["bucket"],
        },
        indent=2,
        sort_keys=True,
    ).encode()
    info = zipfile.ZipInfo(DESCRIPTOR_NAME, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(info, body)
    return buffer.getvalue()


def write_descriptor(artifact: Mapping[str, Any], route: Route, path: Path) -> None:
    """Write the descriptor of `artifact` at `path` (atomically, only when its bytes differ), and remove the
    descriptors of earlier versions of that artifact beside it."""
    data = descriptor_bytes(artifact, route)
    try:
        same = path.read_bytes() == data
    except OSError:
        same = False
    if not same:
        write_bytes_atomic(path, data)
    for stale in path.parent.glob(f"{artifact['name']}-*{DESCRIPTOR_SUFFIX}"):
        if stale.name != path.name:
            stale.unlink(missing_ok=True)
