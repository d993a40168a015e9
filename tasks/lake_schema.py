"""The lake's Parquet schemas, declared once: ``sessions``, ``strides`` and ``frames``.

Every column a run writes, with its Arrow type, driven by what declares it: the metric
catalogue (:mod:`analysis.catalogue`: the session's metric columns, the per-metric
statistics, the per-frame metric series), the stride table's columns
(:data:`analysis.strides.COLUMNS`, then the catalogue's computed per-stride metrics,
:func:`analysis.strides.catalogue_columns`), the keypoints, the foot stage's heel and toe points and the
joint angles (:mod:`analysis.vocabulary`). The writer conforms each table to its schema
(:func:`conform_tables`, called by :func:`tasks.results.session_tables`), ``gaitlake lake check``
checks served files against them, and readers rely on them (docs/lake.md lists them). The
lineage columns (:data:`storage.lake_layout.LINEAGE`) are the lake's own and are added by
:meth:`storage.lake.Lake.write_session`.

It lives in ``tasks`` because ``storage`` imports nothing of ``analysis`` (tests/test_import_layers.py);
a change here is a new lake layout: raise :data:`storage.lake_layout.LAYOUT` and
``configs.PIPELINE_VERSION``.
"""
from __future__ import annotations

import pyarrow as pa

from analysis.catalogue import METRICS, series_metrics, spread_metrics
from analysis.keypoints import KEYPOINT_NAMES
from analysis.strides import COLUMNS as STRIDE_COLUMNS, FLOAT_COLUMNS as STRIDE_FLOATS, catalogue_columns
from analysis.vocabulary import ANGLE_KEYS, SIDES
from storage.lake_layout import conform

__all__ = ["FRAMES", "SCHEMAS", "SESSIONS", "STATS", "STRIDES", "conform_tables", "stats_columns"]

#: Statistics of each spread metric stored beside its session value (the column ``<metric>``, the
#: average): ``<metric>_min``, ``<metric>_max`` over the measuring strides and their ``_values``.
STATS = ("min", "max", "values")

#: The run's facts: catalog fields, the video's geometry and rates, object keys, the pose model.
_SESSION_META = (
    ("title", pa.string()), ("user_id", pa.string()), ("created_at", pa.string()),
    ("fps", pa.float64()), ("effective_fps", pa.float64()), ("n_frames", pa.int64()), ("width", pa.int64()),
    ("height", pa.int64()), ("rotation_deg", pa.int64()), ("duration_s", pa.float64()),
    ("video_key", pa.string()), ("detections_key", pa.string()), ("analyzed_video_key", pa.string()),
    ("content_sha256", pa.string()), ("model", pa.string()), ("joints", pa.string()),
)
#: Summary values that are not catalogue metrics: the scale used, the runner's facing, the mode.
_SESSION_EXTRA = (("px_per_m", pa.float64()), ("facing", pa.string()), ("mode", pa.string()))
#: JSON documents: the engine's phases (``Phases.to_dict``), quality and events; the rendered artifacts.
_SESSION_DOCUMENTS = ("gait_doc", "quality_doc", "events_doc", "images_doc")


def stats_columns(metric: str) -> dict[str, str]:
    """``{min, max, values}`` -> the sessions columns holding that statistic of ``metric``."""
    return {stat: f"{metric}_{stat}" for stat in STATS}


def _sessions() -> pa.Schema:
    fields = [pa.field(name, kind) for name, kind in _SESSION_META]
    fields += [pa.field(m.name, pa.string() if m.is_category else pa.float64()) for m in METRICS]
    fields += [pa.field(name, kind) for name, kind in _SESSION_EXTRA]
    for metric in spread_metrics():
        names = stats_columns(metric)
        fields += [pa.field(names["min"], pa.float64()), pa.field(names["max"], pa.float64()),
                   pa.field(names["values"], pa.list_(pa.float64()))]
    fields += [pa.field(name, pa.string()) for name in _SESSION_DOCUMENTS]
    return pa.schema(fields)


def _strides() -> pa.Schema:
    def kind(name: str) -> pa.DataType:
        if name in ("side", "footstrike"):
            return pa.string()
        return pa.float64() if name in STRIDE_FLOATS else pa.int64()

    # the fixed columns, then the catalogue's computed per-stride metrics (StrideTable.extra)
    return pa.schema([pa.field("stride_index", pa.int64())] + [pa.field(n, kind(n)) for n in STRIDE_COLUMNS]
                     + [pa.field(n, pa.float64()) for n in catalogue_columns()])


def _frames() -> pa.Schema:
    fields = [pa.field("frame_index", pa.int32()), pa.field("time_s", pa.float64()),
              pa.field("runner_found", pa.bool_())]
    fields += [pa.field(f"box_{n}", pa.float32()) for n in ("x1", "y1", "x2", "y2", "conf")]
    # raw detections (float32, as the pose model gives them), then the engine's cleaned points
    fields += [pa.field(f"{kp}_{c}", pa.float32()) for kp in KEYPOINT_NAMES for c in ("x_raw", "y_raw", "conf")]
    fields += [pa.field(f"{kp}_{c}", pa.float64()) for kp in KEYPOINT_NAMES for c in ("x_px", "y_px", "x_m", "y_m")]
    # the foot stage's heel and toe tips (null without it)
    fields += [pa.field(f"{side}_{point}_{c}", pa.float64()) for side in SIDES for point in ("heel", "toe")
               for c in ("x_px", "y_px", "x_m", "y_m", "conf")]
    fields += [pa.field(name, pa.float64()) for name in ANGLE_KEYS]
    fields += [pa.field(f"{side}_contact", pa.float64()) for side in SIDES]
    fields += [pa.field(name, pa.float64()) for name in series_metrics()]
    fields += [pa.field(m.series, pa.float64()) for m in METRICS if m.series and not m.per_stride]
    return pa.schema(fields)


SESSIONS: pa.Schema = _sessions()
STRIDES: pa.Schema = _strides()
FRAMES: pa.Schema = _frames()
#: Table name -> its declared schema (without the lineage columns).
SCHEMAS: dict[str, pa.Schema] = {"sessions": SESSIONS, "strides": STRIDES, "frames": FRAMES}


def conform_tables(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Each table in its declared schema (:func:`storage.lake_layout.conform`)."""
    return {name: conform(table, SCHEMAS[name]) for name, table in tables.items()}
