"""One wallet index for every UTXO chain adapter: the chain-neutral part.

``index.py`` owns the index state (our coins, pending spends, lock candidates of marker
transactions and their spends with witnesses, tips) and its JSON form; ``mempool.py`` the
per-txid judgements of a node's mempool; ``activity.py`` which hashlocks a block range touched;
``files.py`` loading and saving the index file. Each adapter keeps a thin part that reads its
own transaction type (a library's transaction object, its own codec's) into a
:class:`index.TxView` and names its lock record and coin types.
"""
