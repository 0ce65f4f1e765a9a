"""The ETM chain as an off-chain party uses it, over a node's HTTP API (I/O).

- ``htlc_leg``: :class:`EtmAdapter`, the native ETM HTLC as a swap leg (entry point ``etm``);
- ``exchange``: the exchange port the swap engine and the use cases talk to (pools, quotes,
  proofs, relays);
"""
