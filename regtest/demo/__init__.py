"""The demo scenario on the local stack (``etm-bridge demo``) and its pool operator.

- :mod:`.scenario`: start the stack, fund the parties, create the pools, invest, run the swaps,
  read the results back from the chains (the rows of the demo's table).
- :mod:`.parties`: the operator, investor and user on real nodes, each with its own
  :class:`~etm_bridge.app.context.AppContext` (the same use cases the CLI calls).
- :mod:`.engines`: the user's and the operator's swap engines driven side by side.
- :mod:`.operator`: the demo's pool operator rebuilt from the stack dir (``stack operator``).

The scenario names its chains (it is a Bitcoin + Ethereum + ETM demo); the core does not.
"""
