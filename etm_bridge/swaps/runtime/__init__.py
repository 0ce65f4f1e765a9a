"""The I/O half of the swap engine: the swap database (``store``), reading the chains for one
swap (``observe``), executing the policy's actions (``execute``), the loop that drives every swap
(``watcher``) and the pool operator's follower of ETM pool swaps (``operator``).
"""
