"""Foreign chains: one folder each (``etm_bridge/chains/<name>/``), exporting one ``PROFILE``.

:mod:`.profile` says what a chain tells the core (:class:`~.profile.ChainProfile`);
:mod:`.registry` finds the installed chains and answers lookups. Nothing outside a chain's
folder (and its adapter plugin) names a chain.
"""
