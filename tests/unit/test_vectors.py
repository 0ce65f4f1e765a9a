"""The in-repo test vectors are complete and unchanged: every file matches SHA256SUMS.

A plain clone of the repository must pass its tests alone, so the real-chain data the tests read
lives in ``tests/vectors`` (provenance in its README.md), never beside the work tree.
"""

from __future__ import annotations

import hashlib

import vector_files


def _sums() -> dict[str, str]:
    lines = (vector_files.VECTORS_DIR / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line)}


def test_every_vector_matches_its_checksum_and_every_checksum_has_a_file() -> None:
    sums = _sums()
    assert vector_files.names() == sorted(sums)
    for name, digest in sums.items():
        assert hashlib.sha256(vector_files.read_bytes(name)).hexdigest() == digest, name


def test_the_readme_names_every_vector() -> None:
    readme = (vector_files.VECTORS_DIR / "README.md").read_text()
    for name in vector_files.names():
        assert name.rsplit("/", 1)[-1] in readme, name
