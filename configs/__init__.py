"""Settings: ``configs/default.toml`` overridden by ``GAITLAKE_*`` environment variables.

Every tunable of gaitlake lives in ``default.toml``; this module loads it into
validated pydantic models. Environment variables override single values:
``GAITLAKE_<SECTION>__<KEY>`` (e.g. ``GAITLAKE_POSE__IMGSZ=480``) or
``GAITLAKE_<KEY>`` for top-level keys (e.g. ``GAITLAKE_DATA_DIR``). A profile file
(``GAITLAKE_CONFIG=path.toml``) may sit between the two.
"""
from __future__ import annotations

import hashlib
import secrets
import json
import logging
import os
import re
import tomllib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

#: The pipeline_version new results are written under when `[pipeline] version` is empty (it goes
#: into every lake row): bump it when results change for the same video and config. Settings own it
#: and `gaitlake.PIPELINE_VERSION` re-exports it, so configs imports nothing above itself.
#: p0.2.0: lake layout 2 (storage.lake_layout.LAYOUT: declared schemas, per-metric statistics
#: stored with the session); runs of p0.1.0 are refused by the API until `gaitlake reprocess --older`.
PIPELINE_VERSION = "p0.2.0"

DEFAULT_TOML = Path(__file__).with_name("default.toml")
ENV_PREFIX = "GAITLAKE_"
# GAITLAKE_* variables that are not settings (the profile, tools and tests read them): every
# other GAITLAKE_* name must be a setting, so a typo is an error instead of being ignored.
ENV_NOT_SETTINGS = frozenset({
    "CONFIG", "SHARED_DIR", "STACK_DIR", "TEST_PG", "TEST_ARTIFACTS", "UPDATE_SNAPSHOT",
    "WRITE_DOC_IMAGES", "DEV_KEYPOINTS", "CHROMIUM",
})


@lru_cache(maxsize=1)
def _default_tables() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_TOML.read_text())


class _Section(BaseModel):
    """One ``[section]`` of default.toml. Its defaults live only there: a section built in code
    (``ApiSettings(launch_processing=False)``) takes every value it is not given from the file."""

    model_config = ConfigDict(extra="forbid")
    #: the TOML table this model reads (set below from :class:`Settings`' field names)
    toml_table: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_toml(cls, data: Any) -> Any:
        if cls.toml_table is None or not isinstance(data, dict):
            return data
        return {**_default_tables().get(cls.toml_table, {}), **data}


class StorageSettings(_Section):
    url: str
    endpoint_url: str
    max_upload_mb: int = Field(ge=1)
    region: str
    retry_attempts: int = Field(ge=1)
    retry_backoff_s: float = Field(ge=0)
    # S3 endpoint browsers reach for presigned links (empty -> endpoint_url).
    public_endpoint_url: str
    # Refuse to run with an empty url (deployments on a work pool set it: never fall back to local files).
    require_url: bool

    @model_validator(mode="after")
    def _url_when_required(self) -> "StorageSettings":
        if self.require_url and not self.url.strip():
            raise ValueError("storage.url is empty but storage.require_url is set: set GAITLAKE_STORAGE__URL "
                             "(e.g. s3://bucket/prefix) where this runs, or results would go to local files")
        return self


class CatalogSettings(_Section):
    url: str
    migrate: bool


class PipelineSettings(_Section):
    version: str
    task_retries: int = Field(ge=0)
    task_retry_delay_s: float = Field(ge=0)


class IngestSettings(_Section):
    prefix: str
    interval_s: int = Field(ge=1)
    max_files: int = Field(ge=1)
    process: bool


class ProcessingSettings(_Section):
    """The session queue: leases, attempts, the warm worker (see README "Processing queue")."""
    concurrency: int = Field(ge=1)
    lease_s: float = Field(gt=0)
    max_attempts: int = Field(ge=1)
    poll_interval_s: float = Field(gt=0)
    reconcile_interval_s: float = Field(gt=0)
    orchestration_timeout_s: float = Field(gt=0)
    dispatch_grace_s: float = Field(gt=0)
    deployment: str
    embedded_worker: bool
    shutdown_grace_s: float = Field(ge=0)


class ReprocessSettings(_Section):
    concurrency: int = Field(ge=1)


class CompactSettings(_Section):
    min_files: int = Field(ge=2)  # one file is already compact
    row_group_rows: int = Field(ge=1)
    grace_s: float = Field(ge=0)


class PrefectSettings(_Section):
    home: str
    api_url: str


class VideoSettings(_Section):
    chunk_frames: int = Field(ge=1)
    max_pixel_frames: int = Field(ge=1)
    max_side_px: int = Field(ge=16)
    min_frames: int = Field(ge=1)
    prefetch_chunks: int = Field(ge=0)
    max_decode_mb: int = Field(gt=0)
    min_decoded_share: float = Field(ge=0, le=1)


PoseBackend = Literal["auto", "ultralytics", "openvino", "onnx", "replay"]


class PoseSettings(_Section):
    backend: PoseBackend
    weights: str
    model_name: str
    # the network's input side, px (YOLO rounds it up to its stride of 32)
    imgsz: int = Field(ge=32, le=4096)
    batch_size: int = Field(ge=1)
    det_conf: float = Field(ge=0, le=1)
    # "auto", "cpu", "cuda" or "cuda:<index>": a typo fails when settings load, before pose
    device: str = Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    half: bool
    preprocess: Literal["auto", "predict", "tensor"]
    pinned_memory: bool
    tensorrt: bool
    # Exported OpenVINO/ONNX models; empty -> <data_dir>/ultralytics/exports.
    export_dir: str
    openvino_precision: Literal["auto", "f32", "bf16"]
    roi: bool
    roi_imgsz: int = Field(ge=32)
    roi_margin: float = Field(ge=0.0)
    roi_refresh_frames: int = Field(ge=1)
    roi_max_area_share: float = Field(gt=0.0, le=1.0)


class FeetSettings(_Section):
    """The foot stage (``tasks.feet``): heel and toe from BlazePose's landmark model on the runner's crop."""

    enabled: bool
    # Explicit .tflite path; empty -> the copy inside the installed mediapipe package; none -> shank proxy.
    model_path: str
    crop_scale: float = Field(gt=1.0, le=3.0)
    batch_size: int = Field(ge=1)
    num_threads: int = Field(ge=0)
    max_people: int = Field(ge=1)
    runtime: Literal["openvino", "litert"]
    # Explicit strike model .tflite (BlazePose heavy); empty -> the npm-installed copy in the venv;
    # none -> the foot model's points give the strikes (quality.footstrike_model says which).
    strike_model_path: str
    strike_floor_stances: int = Field(ge=1)

    @model_validator(mode="after")
    def _model_files_exist(self) -> "FeetSettings":
        # a typo in an explicit path must stop the start, not fall back to a weaker measure
        for name in ("model_path", "strike_model_path"):
            value = getattr(self, name)
            if value and not Path(value).expanduser().is_file():
                raise ValueError(f"{name} {value!r} is not a file")
        return self


class RaySettings(_Section):
    address: str
    num_actors: int = Field(ge=1)
    num_gpus_per_actor: float = Field(ge=0)
    num_cpus_per_actor: float = Field(ge=0)
    max_inflight_per_actor: int = Field(ge=1)
    max_restarts: int = Field(ge=-1)  # Ray's -1: restart without limit
    namespace: str
    actor_start_timeout_s: float = Field(gt=0)
    # Ray token auth for clusters we join: "" (Ray's own rule), "token" or "disabled" (-> RAY_AUTH_MODE).
    auth_mode: Literal["", "token", "disabled"]
    # File holding the cluster's token (-> RAY_AUTH_TOKEN_PATH); empty -> RAY_AUTH_TOKEN or ~/.ray/auth_token.
    auth_token_path: str


class TrackingSettings(_Section):
    """Runner selection (``analysis.tracking.select_runner``) and the flow's presence gate."""

    max_jump_box_heights: float = Field(gt=0)
    max_gap_frames: int = Field(ge=0)
    min_runner_share: float = Field(ge=0, le=1)


class AnalysisSettings(_Section):
    """The gait engine: ``engine_params()`` is what ``analysis.engine.analyze`` runs with,
    ``mode`` goes into the runner profile. Values live in default.toml only."""

    min_keypoint_conf: float = Field(ge=0, lt=1)
    lowpass_hz: float = Field(gt=0)
    max_gap_s: float = Field(ge=0)
    default_height_cm: float = Field(gt=0)
    # analysis.events.EVENT_METHODS (a test keeps the two equal)
    event_method: Literal["velocity", "zeni", "velocity+zeni", "velocity+fellin", "vertical", "velocity+vertical",
                          "foot"]
    mode: Literal["auto", "treadmill", "overground"]

    def engine_params(self):
        """The frozen ``analysis.params.EngineParams`` of these settings."""
        from analysis.params import EngineParams

        return EngineParams(min_keypoint_conf=self.min_keypoint_conf, lowpass_hz=self.lowpass_hz,
                            max_gap_s=self.max_gap_s, default_height_m=self.default_height_cm / 100.0,
                            event_method=self.event_method)


class ApiSettings(_Section):
    """The REST API (see docs/api.md)."""

    host: str
    port: int = Field(ge=1, le=65535)
    # Absolute base for links in responses ("https://api.example.org"); empty -> the request's base URL.
    public_base_url: str
    # HMAC secret for signed local-storage links; empty -> <data_dir>/api-signing.key (created 0600).
    signing_secret: str
    # Lifetime of signed links (local) and presigned URLs (S3), seconds.
    link_ttl_s: int = Field(ge=1)
    # Bearer JWTs (Firebase-style RS256): a PEM public key/certificate file, a JWKS
    # JSON file, or a directory of them. Empty -> Bearer tokens are refused.
    jwt_public_keys: str
    jwt_issuer: str
    jwt_audience: str
    jwt_algorithms: list[str]
    jwt_leeway_s: int = Field(ge=0)
    # Sessions a user may create per window, per plan ("free" = no plan); -1 = unlimited.
    session_limits: dict[str, Annotated[int, Field(ge=-1)]]
    session_limit_window_days: int = Field(ge=1)
    # Seconds a verified API key is trusted without a catalog lookup (0 = always look up);
    # revoking a key or changing a role takes effect within this time.
    auth_cache_ttl_s: float = Field(ge=0)
    # Seconds a caller's view of a session (visibility, status, owner, saved threads) is reused
    # without a catalog query (0 = query on every read).
    view_cache_ttl_s: float = Field(ge=0)
    # Start processing after an upload (tests switch it off).
    launch_processing: bool
    # Parsed report documents kept in memory (per served lake version).
    cache_size: int = Field(ge=1)
    # Slow clients (slowloris): seconds a request head may take in all, and a request body between
    # two of its pieces; then 408 and the connection is closed (api/server.py).
    header_timeout_s: float = Field(gt=0)
    body_timeout_s: float = Field(gt=0)

    def resolved_signing_secret(self, data_path: Path) -> bytes:
        if self.signing_secret:
            return self.signing_secret.encode()
        path = data_path / "api-signing.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()


class RenderSettings(_Section):
    """Analysed video, snapshots and chart report (tasks/render/)."""

    enabled: bool
    max_side: int = Field(ge=16)
    crf: int = Field(ge=0, le=51)  # libx264's scale
    preset: str


class LlmSettings(_Section):
    """Optional OpenAI-compatible commentary engine; empty url or model -> rule engine only."""

    url: str
    model: str
    api_key: str
    timeout_s: float = Field(gt=0)
    max_tokens: int = Field(ge=1)
    temperature: float = Field(ge=0, le=2)


class Settings(_Section):
    data_dir: str
    storage: StorageSettings
    catalog: CatalogSettings
    prefect: PrefectSettings
    video: VideoSettings
    pose: PoseSettings
    feet: FeetSettings
    ray: RaySettings
    tracking: TrackingSettings
    analysis: AnalysisSettings
    api: ApiSettings
    pipeline: PipelineSettings
    processing: ProcessingSettings
    ingest: IngestSettings
    reprocess: ReprocessSettings
    compact: CompactSettings
    render: RenderSettings
    llm: LlmSettings

    # Derived locations: the embedded defaults all live under data_dir.
    @property
    def data_path(self) -> Path:
        """``data_dir`` resolved; empty -> the platform's user data directory (:func:`default_data_dir`)."""
        return Path(self.data_dir).expanduser().resolve() if self.data_dir.strip() else default_data_dir()

    @property
    def storage_url(self) -> str:
        return self.storage.url or (self.data_path / "store").as_uri()

    @property
    def catalog_url(self) -> str:
        return self.catalog.url or f"sqlite:///{self.data_path / 'catalog.db'}"

    @property
    def pipeline_version(self) -> str:
        """The pipeline_version new results are written under."""
        return self.pipeline.version or PIPELINE_VERSION

    def storage_options(self) -> dict[str, Any]:
        """fsspec keyword arguments for the object store (credentials come from the environment)."""
        options: dict[str, Any] = {}
        if self.storage.endpoint_url:
            options["endpoint_url"] = self.storage.endpoint_url
        if self.storage.region:
            options["client_kwargs"] = {"region_name": self.storage.region}
        return options

    @property
    def prefect_home(self) -> Path:
        return Path(self.prefect.home).expanduser().resolve() if self.prefect.home else self.data_path / "prefect"

    def analysis_hash(self) -> str:
        """Short hash of the settings that change results (pose + tracking + analysis)."""
        relevant = {k: self.model_dump()[k] for k in ("pose", "tracking", "analysis")}
        # the foot stage changes results only when it runs; its thread count and batch never do
        feet = self.model_dump()["feet"]
        if feet["enabled"]:
            relevant["feet"] = {k: feet[k] for k in ("model_path", "crop_scale")}
        relevant["pose"] = {k: v for k, v in relevant["pose"].items() if k not in ("device", "batch_size")}
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:12]


for _name, _field in Settings.model_fields.items():
    if isinstance(_field.annotation, type) and issubclass(_field.annotation, _Section):
        _field.annotation.toml_table = _name


class SettingsError(ValueError):
    """The configuration is invalid; the message names the offending key."""


def _coerce(raw: str, current: Any) -> Any:
    if isinstance(current, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"expected a boolean, got {raw!r}")
    return raw  # pydantic validates and converts the rest


def _apply_env(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name[len(ENV_PREFIX):] in ENV_NOT_SETTINGS:
            continue
        path = name[len(ENV_PREFIX):].lower().split("__")
        node = data
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                raise SettingsError(f"{name}: no settings section {part!r}")
            node = node[part]
        key = path[-1]
        if key not in node or isinstance(node[key], dict):
            raise SettingsError(f"{name}: no setting {'.'.join(path)!r}")
        try:
            node[key] = _coerce(raw, node[key])
        except SettingsError as exc:
            raise SettingsError(f"{name}: {exc}") from None
    return data


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def load_settings(environ: dict[str, str] | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Build the effective settings: defaults, then GAITLAKE_CONFIG file, then env, then overrides."""
    environ = dict(os.environ if environ is None else environ)
    data = tomllib.loads(DEFAULT_TOML.read_text())
    profile = environ.get(ENV_PREFIX + "CONFIG")
    if profile:
        _merge(data, _read_profile(profile))
    _apply_env(data, environ)
    if overrides:
        _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_describe_validation(exc, profile)) from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (cached). Tests call ``get_settings.cache_clear()``."""
    return load_settings()

# -- GAITLAKE_CONFIG profile errors, in one sentence -----------------------------------


def _read_profile(profile: str) -> dict[str, Any]:
    """The TOML profile named by GAITLAKE_CONFIG; a missing, unreadable or malformed file is a SettingsError."""
    path = Path(profile).expanduser()
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SettingsError(f"GAITLAKE_CONFIG={profile}: no such file") from None
    except IsADirectoryError:
        raise SettingsError(f"GAITLAKE_CONFIG={profile} is a directory, not a TOML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"GAITLAKE_CONFIG={profile} cannot be read ({exc.__class__.__name__})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"GAITLAKE_CONFIG={profile} is not valid TOML: {exc}") from None


def _describe_validation(exc: ValidationError, profile: str | None) -> str:
    """pydantic's multi-line report as one line per bad key: ``pose.imgsz: <why> (got 'big')``."""
    parts = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error.get("loc", ()))
        got = error.get("input")
        shown = "" if isinstance(got, dict) else f" (got {mask_text(repr(got))[:60]})"
        parts.append(f"{key}: {error.get('msg', 'invalid')}{shown}")
    source = f" (defaults, GAITLAKE_CONFIG={profile}, GAITLAKE_* variables)" if profile else ""
    return "; ".join(parts) + source


# -- the default data directory --------------------------------------------------------


def default_data_dir() -> Path:
    """Where the embedded mode keeps its data when ``data_dir`` is empty: the user data directory.

    ``platformdirs.user_data_dir("gaitlake")`` where platformdirs is installed (Linux:
    ``$XDG_DATA_HOME/gaitlake`` or ``~/.local/share/gaitlake``; macOS:
    ``~/Library/Application Support/gaitlake``; Windows: ``%LOCALAPPDATA%\\gaitlake``), else
    the XDG rule. The same directory whatever the working directory, so a ``gaitlake query``
    run elsewhere reads the lake ``gaitlake process`` wrote.
    """
    try:
        import platformdirs
    except ImportError:
        base = os.environ.get("XDG_DATA_HOME") or "~/.local/share"
        return (Path(base).expanduser() / "gaitlake").resolve()
    return Path(platformdirs.user_data_dir("gaitlake", appauthor=False)).resolve()


# -- secrets: never printed or logged in clear ----------------------------------------

MASK = "****"
# Setting names whose values are secrets, wherever they sit (llm.api_key, api.signing_secret, ...).
SECRET_KEY_PARTS = ("api_key", "apikey", "secret", "password", "passwd", "token", "credential", "private_key")
# user:password@ in a URL (postgresql://user:pw@host/db, https://user:pw@host, s3://key:secret@bucket).
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)(?P<pw>[^@\s/]+)(?P<at>@)")


def is_secret_key(name: str) -> bool:
    """Whether a setting called ``name`` holds a secret (by its name)."""
    lowered = name.lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def mask_url(url: str) -> str:
    """``url`` with the password of any ``user:password@`` replaced by ``****``."""
    return _URL_PASSWORD.sub(lambda m: m["head"] + MASK + m["at"], url)


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URL passwords and every one of ``secrets`` (non-empty values) masked."""
    for value in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return mask_url(text)


def masked(data: Any, key: str = "") -> Any:
    """A copy of a settings dump with secret-named values and URL passwords masked (empty stays empty)."""
    if isinstance(data, dict):
        return {k: masked(v, str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [masked(v, key) for v in data]
    if isinstance(data, str):
        if data and is_secret_key(key):
            return MASK
        return mask_url(data)
    return data


def secret_values(settings: "Settings") -> list[str]:
    """The non-empty secret values in ``settings`` (for :func:`mask_text` on free text)."""
    found: list[str] = []

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, str) and node and is_secret_key(key):
            found.append(node)
        elif isinstance(node, str):
            found.extend(m["pw"] for m in _URL_PASSWORD.finditer(node))

    walk(settings.model_dump())
    return found


def install_log_masking(settings: "Settings | None" = None) -> None:
    """Mask secrets in every log record from now on (all loggers and handlers: a record factory)."""
    secrets_ = tuple(secret_values(settings)) if settings is not None else ()
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_gaitlake_masking", None) == secrets_:
        return
    base = getattr(previous, "_gaitlake_base", previous)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's business, not ours
            return record
        clean = mask_text(message, secrets_)
        if clean != message:
            record.msg, record.args = clean, None
        return record

    factory._gaitlake_masking = secrets_  # type: ignore[attr-defined]
    factory._gaitlake_base = base  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
