"""gaitlake: side-view running video -> pose keypoints -> gait metrics -> Parquet lake -> REST API."""

__version__ = "0.1.0"
# Written into every lake row: bump when results change for the same video and config.
PIPELINE_VERSION = f"p{__version__}"
