"""The data lake's REST API and pages, served by Airflow's API server through the plugin."""
