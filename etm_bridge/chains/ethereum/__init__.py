"""Ethereum, one folder: its profile (:data:`PROFILE`), SPV (:mod:`.spv`, pure) and ETM-side
consensus code (:mod:`.etm`: relay types 111/112, genesis part, exchange verifier).

The Ethereum adapter plugin imports from here what it shares with the core (units, RLP, proof
codecs); nothing else outside this folder names Ethereum.
"""

from .profile import ETH, ETH_UNIT, PROFILE
from .wallet import ETHEREUM_ADDRESS

__all__ = ["ETH", "ETHEREUM_ADDRESS", "ETH_UNIT", "PROFILE"]
