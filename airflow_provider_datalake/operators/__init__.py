"""Operators: the format run's steps (`formats`: claim, load, finish), which the generated DAGs are built
from, and one gold operator per store for users composing their own DAGs."""
