"""Jinja2 templates of the DAG files the factory writes into a dags folder (package data)."""
