"""The running-sessions REST API (FastAPI): ``api.app:create_app``."""
