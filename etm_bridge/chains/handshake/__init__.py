"""Handshake (HNS), one folder: its profile (:data:`PROFILE`), SPV (:mod:`.spv`, pure: 236-byte
headers, the BLAKE2b/SHA-3 proof of work, hsd's per-block retarget, the BLAKE2b Merkle tree) and
ETM-side consensus code (:mod:`.etm`: relay types 121/122, genesis part, exchange verifier).

Nothing outside this folder names Handshake; the adapter plugin (``adapters/handshake``) is
separate and this folder never imports it.
"""

from .profile import HNS, HNS_UNIT, PROFILE

__all__ = ["HNS", "HNS_UNIT", "PROFILE"]
