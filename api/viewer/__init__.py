"""The coach's page: one session in a browser, and the exports other tools open (docs/viewer.md)."""
from api.viewer.router import install_viewer

__all__ = ["install_viewer"]
