"""brought_config: the one reader of a bring-your-own config.pbtxt for the places that only need the config."""

from __future__ import annotations

import os
from pathlib import Path

from components.core.plan import brought_config


def test_a_readable_config_is_parsed_against_triton_s_schema(tmp_path: Path) -> None:
    path = tmp_path / "config.pbtxt"
    path.write_text('name: "m"\nbackend: "python"\nmax_batch_size: 8\n')

    config = brought_config(path)

    assert config is not None
    assert (config.name, config.backend, config.max_batch_size) == ("m", "python", 8)


def test_a_config_that_cannot_be_used_gives_none_without_blocking(tmp_path: Path) -> None:
    unknown_field = tmp_path / "unknown.pbtxt"
    unknown_field.write_text('name: "m"\nmax_batch_sise: 8\n')
    not_utf8 = tmp_path / "latin1.pbtxt"
    not_utf8.write_bytes(b'name: "caf\xe9"\n')
    fifo = tmp_path / "fifo.pbtxt"
    os.mkfifo(fifo)

    assert [brought_config(path) for path in (unknown_field, not_utf8, fifo, tmp_path / "missing.pbtxt",
                                              tmp_path)] == [None] * 5
