"""Bitcoin, one folder: its profile (:data:`PROFILE`), SPV (:mod:`.spv`, pure) and ETM-side
consensus code (:mod:`.etm`: relay types 101/102, genesis part, exchange verifier).

The Bitcoin adapter plugin imports from here what it shares with the core (units, scripts,
proof kinds); nothing else outside this folder names Bitcoin.
"""

from .profile import BTC, BTC_UNIT, PROFILE

__all__ = ["BTC", "BTC_UNIT", "PROFILE"]
