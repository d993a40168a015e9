"""gaitlake: side-view running video -> pose keypoints -> gait metrics -> Parquet lake -> REST API."""

from configs import PIPELINE_VERSION  # noqa: F401  (written into every lake row; configs owns it)

__version__ = "0.1.0"
