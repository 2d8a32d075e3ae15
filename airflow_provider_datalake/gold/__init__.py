"""Gold zone loaders: one module per store, each turning parsed batches into an idempotent, atomic write.

Modules are imported on demand (``gold.postgres`` needs psycopg), so this package imports nothing itself.
"""
