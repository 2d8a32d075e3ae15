"""Gold zone: typed data written into PostgreSQL, InfluxDB, MongoDB and Neo4j, one raw object at a time.

- `gold.common`: the `GoldLoader` protocol every store implements, `LoadResult`, `GoldLoadError` /
  `GoldSchemaError`, the lineage names and the helpers the stores share;
- `gold.registry`: store name -> store module, and ``make_loader(target, fields)`` for any target;
- one module per store (`postgres`, `influxdb`, `mongo`, `neo4j`), each with its ``make_loader`` and its
  loader class; PostgreSQL's table DDL and binary COPY live beside it (`postgres_schema`, `postgres_copy`).

Store modules import their drivers, so this package imports nothing itself.
"""
