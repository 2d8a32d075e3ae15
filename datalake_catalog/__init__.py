"""The lake's catalog without Airflow: raw-object records, their state machine and the two-phase write
that puts a file and its record in place together, over pymongo. The Airflow provider builds on it, and
Swift's proxy runs its middleware (`datalake_catalog.swift_middleware`) from a distribution of its own
(``datalake-catalog``, pymongo only)."""
