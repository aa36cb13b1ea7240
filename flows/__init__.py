"""Prefect flows: the pipeline diagrams. Each flow body reads like the data flow it runs."""
