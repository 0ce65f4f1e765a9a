"""The pure half of the swap engine: the transition table (``fsm``) and one spec per state
(``states``), the record (``model``), what the chains show (``views``), events and policy
(``events``, ``policy``), the record codec, ``swap explain``'s timeline, pool swap terms
(``pool_terms``) and the ports the engine talks to ETM through (``ports``).

Pure: nothing here does I/O (``tests/unit/swaps/test_swap_purity.py`` checks every module).
"""
