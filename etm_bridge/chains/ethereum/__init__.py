"""Ethereum: its SPV (pure, :mod:`.spv`) and its ETM-side consensus code (:mod:`.etm`)."""
