"""Prefect tasks and their plain-Python cores: video I/O, pose on Ray actors, lake writes."""
