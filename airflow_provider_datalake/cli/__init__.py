"""The `datalake` command line: insert files, look at the catalog, settle crashes, run the demo.

One module per command or command group; each parses its arguments, calls the package (where a DAG or the
API can call the same thing) and prints the result. `app` holds the group, the console script and how a
command ends when the world fails it; `render` how things are printed; `context` the hooks every command
gets. Connections come from Airflow connection ids (``swift_default``, ``mongo_default`` by default), so
sourcing the stack's env file (or any Airflow secrets backend) is all the set-up a shell needs. One given
in the environment (``AIRFLOW_CONN_<ID>``) is read without Airflow, whose import alone outlasts a small
insert; `-v` says where each was read from.

Only click and rich are imported at start, and a command's module only when it runs (`app.COMMANDS`):
everything that pulls in the stores' clients, Airflow or pydantic is imported inside the command that
needs it, so `datalake --help` and usage errors answer at once.
"""

from airflow_provider_datalake.cli.app import cli, main

__all__ = ["cli", "main"]
