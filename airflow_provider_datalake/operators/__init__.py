"""Operators for users composing their own DAGs; the generated format DAGs call the loaders directly."""
