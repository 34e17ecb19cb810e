# The marketsync Tryton module: a unique, indexed idempotency key on account.move and sale.sale,
# and one RPC per model that finds-or-creates-and-finishes the keyed document in a single
# transaction. Installed by scripts/tryton-up.sh; read by the marketsync-tryton adapter.
