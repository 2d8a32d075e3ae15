"""The package's version, in a module of its own so that any layer can read it without importing the
package's entry points (the root package, the DAG spec in the format cache, the provider metadata)."""

__version__ = "0.1.0"
