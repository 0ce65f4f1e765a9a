"""One wallet index for every UTXO chain adapter (Bitcoin, Handshake): the chain-neutral part.

``index.py`` owns the index state (our coins, pending spends, lock candidates of marker
transactions and their spends with witnesses, tips) and its JSON form; ``mempool.py`` the
per-txid judgements of a node's mempool; ``activity.py`` which hashlocks a block range touched;
``files.py`` loading and saving the index file. Each
adapter keeps a thin part that reads its own transaction type into a :class:`index.TxView`
(python-bitcoinlib's ``CTransaction``, the hsd codec's ``Tx``) and its own lock record.
"""
