"""The app's OpenAPI document: the shared spec, with documented corrections and extensions.

``api/spec/running-openapi.json`` is a verbatim copy of the shared spec
(tests check it still matches). :func:`corrected_spec` applies
:data:`CORRECTIONS` (where the spec's schemas contradict its prose or what the
API can honestly return); :func:`app_openapi` adds the extension operations.
docs/api.md lists the same corrections.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("spec") / "running-openapi.json"

READ_OPS = (
    ("/running/sessions/{session_id}/", "get"),
    ("/running/sessions/{session_id}/summary/", "get"),
    ("/running/sessions/{session_id}/summary/", "post"),
    ("/running/sessions/{session_id}/export/", "get"),
    ("/running/sessions/{session_id}/form-analysis/", "post"),
    ("/running/sessions/{session_id}/form-recommendations/", "post"),
    ("/running/sessions/{session_id}/gait-analysis/", "post"),
    ("/running/sessions/{session_id}/recommendation/", "post"),
)

NUM_OR_NULL = {"type": ["number", "null"]}
SERIES = {"type": "array", "items": NUM_OR_NULL}


def _error(description: str, **extra_props: Any) -> dict[str, Any]:
    props = {"error": {"type": "string", "description": "What went wrong, in one sentence."}, **extra_props}
    return {"description": description, "content": {"application/json": {"schema": {"type": "object", "required": ["error"], "properties": props}}}}


def _ok_schema(spec: dict, path: str, method: str) -> dict[str, Any]:
    responses = spec["paths"][path][method]["responses"]
    code = "200" if "200" in responses else "201"
    return responses[code]["content"]["application/json"]["schema"]


@dataclass(frozen=True)
class Correction:
    where: str
    what: str
    why: str
    apply: Callable[[dict], None]


def _upload_body(spec: dict) -> None:
    op = spec["paths"]["/running/sessions/"]["post"]
    op["requestBody"] = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["user_id", "video"],
                    "properties": {
                        "user_id": {"type": "string", "description": "**Required.** The catalog id (or e-mail) of the user the session is for."},
                        "video": {"type": "string", "format": "binary", "contentMediaType": "video/*",
                                  "description": "**Required.** The raw video (MP4, MOV, AVI, MKV or WebM)."},
                        "session_name": {"type": "string", "description": "**Optional.** Title of the session."},
                        "incline_degree": {"type": "string", "description": "**Optional.** Treadmill incline in degrees (a number, e.g. `5` or `-1.5`)."},
                        "body_joint_angles": {"type": "string", "description": "**Optional.** Comma-separated joints: `ankle`, `knee`, `elbow`, `hip`, `shoulder` or `all` (default)."},
                        "capture_fps": {"type": "string", "description": "**Extension, optional.** True capture frame rate of slow-motion footage (e.g. `240`) when the file plays back slower."},
                        "height_cm": {"type": "string", "description": "**Extension, optional.** Runner height in cm (scale); defaults to the user's profile."},
                        "weight_kg": {"type": "string", "description": "**Extension, optional.** Runner weight in kg (power); defaults to the user's profile."},
                    },
                },
                "encoding": {"video": {"contentType": "video/*, application/octet-stream"}},
            }
        },
    }


def _upload_413(spec: dict) -> None:
    spec["paths"]["/running/sessions/"]["post"]["responses"]["413"] = _error("Payload Too Large - the upload exceeds `storage.max_upload_mb`.")


def _series_maps(spec: dict) -> None:
    details = _ok_schema(spec, "/running/sessions/{session_id}/", "get")["properties"]
    details["metrics"]["additionalProperties"] = SERIES
    details["angles"]["additionalProperties"] = SERIES
    export = _ok_schema(spec, "/running/sessions/{session_id}/export/", "get")["properties"]
    export["metrics"]["additionalProperties"] = SERIES
    export["keypoints"]["additionalProperties"] = SERIES
    export["angles"]["additionalProperties"] = SERIES
    details["all_timestamps"]["items"] = {"type": "number"}


def _nullable_numbers(spec: dict) -> None:
    summary = _ok_schema(spec, "/running/sessions/{session_id}/summary/", "get")["properties"]
    for block in ("performance_metrics", "running_mechanics", "balance_and_posture", "distance_and_duration"):
        for prop in summary[block]["properties"].values():
            if prop.get("type") == "number":
                prop["type"] = ["number", "null"]
            elif prop.get("type") == "string":
                prop["type"] = ["string", "null"]
            elif prop.get("type") == "object":
                for stat_name, stat in prop["properties"].items():
                    if stat_name != "values":
                        stat["type"] = ["number", "null"]
    form = _ok_schema(spec, "/running/sessions/{session_id}/form-analysis/", "post")["properties"]
    for prop in form["metrics"]["properties"].values():
        prop["type"] = ["number", "null"]
    form["metrics"]["additionalProperties"] = NUM_OR_NULL
    gait = _ok_schema(spec, "/running/sessions/{session_id}/gait-analysis/", "post")["properties"]
    for side in ("left", "right"):
        gait[side]["properties"]["peak_time"]["type"] = ["number", "null"]
    total = _ok_schema(spec, "/running/sessions/metrics/total/", "get")["properties"]
    for prop in total["avg_metrics"]["properties"].values():
        prop["type"] = ["number", "null"]
    for prop in total["last_session_metrics"]["properties"].values():
        if prop.get("type") == "number":
            prop["type"] = ["number", "null"]
        elif prop.get("type") == "object":
            for stat in prop["properties"].values():
                stat["type"] = ["number", "null"]


def _user_info_nullable(spec: dict) -> None:
    for path in ("/running/sessions/{session_id}/form-analysis/", "/running/sessions/{session_id}/gait-analysis/"):
        props = _ok_schema(spec, path, "post")["properties"]["user_info"]["properties"]
        props["age"]["type"] = ["integer", "null"]
        props["height"]["type"] = ["number", "null"]
        props["weight"]["type"] = ["number", "null"]


def _image_url_nullable(spec: dict) -> None:
    gait = _ok_schema(spec, "/running/sessions/{session_id}/gait-analysis/", "post")["properties"]
    for side in ("left", "right"):
        for phase in gait[side]["properties"]["phases"]["properties"].values():
            phase["properties"]["image_url"] = {"type": ["string", "null"], "format": "uri",
                                                "description": "Snapshot URL; null until the snapshot renderer has produced it."}


def _form_recommendations_errors(spec: dict) -> None:
    responses = spec["paths"]["/running/sessions/{session_id}/form-recommendations/"]["post"]["responses"]
    responses.setdefault("400", _error("Bad Request - invalid session id."))
    responses.setdefault("401", _error("Unauthorized - missing or invalid credentials."))


def _processing_409(spec: dict) -> None:
    status = {"type": "string", "enum": ["queued", "processing", "failed"], "description": "Where the session stands."}
    for path, method in READ_OPS:
        spec["paths"][path][method]["responses"]["409"] = _error(
            "Conflict - the session has not been processed (yet): `status` says whether it is queued, processing or failed.",
            status=status,
        )


def _damaged_503(spec: dict) -> None:
    status = {"type": "string", "enum": ["damaged"], "description": "The session's stored results cannot be read."}
    for path, method in READ_OPS:
        spec["paths"][path][method]["responses"]["503"] = _error(
            "Service Unavailable - the session's stored results are missing or corrupt; `error` names the damage and "
            "the repair command (`gaitlake reprocess ID --force`). Other sessions are not affected.",
            status=status,
        )


def _security(spec: dict) -> None:
    spec["components"]["securitySchemes"]["Bearer"]["description"] = (
        "`Authorization: Bearer <JWT>` (Firebase-style RS256 ID token) or `Authorization: API-KEY <api_key>`; "
        "the scheme word is checked."
    )


def _id_pattern(spec: dict) -> None:
    from api.settings import SESSION_ID_RE

    for ops in spec["paths"].values():
        for op in ops.values():
            for param in op.get("parameters", []) if isinstance(op, dict) else []:
                if param.get("in") == "path" and param.get("name") in ("session_id", "thread_id"):
                    param["schema"] = {**param.get("schema", {}), "pattern": SESSION_ID_RE.pattern,
                                       "minLength": 1, "maxLength": 64}


def _servers(spec: dict) -> None:
    spec["servers"] = [{"url": "/", "description": "This gaitlake server"}]


CORRECTIONS: tuple[Correction, ...] = (
    Correction("POST /running/sessions/ requestBody",
               "`application/x-www-form-urlencoded` -> `multipart/form-data`; `video` is `format: binary`; "
               "`body_joint_angles` is a comma-separated string (not an array); `capture_fps`, `height_cm`, `weight_kg` added as extensions",
               "The prose and the curl example send a multipart upload with a file part and a comma-separated joint list.", _upload_body),
    Correction("POST /running/sessions/ responses", "adds 413",
               "The upload size limit answers 413 Payload Too Large.", _upload_413),
    Correction("GET session details `metrics`, `angles`; GET export `metrics`, `keypoints`, `angles`",
               "`additionalProperties` is an array of numbers (items may be null for frames without a value)",
               "The prose says each key maps to an array of numbers; the schema said a number.", _series_maps),
    Correction("summary block statistics (`min`/`max`/`avg`, `total_distance`, `total_time`, `footstrike`), "
               "form-analysis `metrics`, gait-analysis `peak_time`, total metrics numbers",
               "number -> number or null",
               "A metric the video does not allow to measure (e.g. no flight phase, too few strides) is null, never a made-up 0.",
               _nullable_numbers),
    Correction("form-analysis / gait-analysis `user_info.age`, `height`, `weight`", "nullable",
               "They are required by the schema but may be unknown for a user; null says so.", _user_info_nullable),
    Correction("gait-analysis `phases.*.image_url`", "string (uri) or null",
               "Phase snapshots exist only once the renderer has produced them.", _image_url_nullable),
    Correction("POST form-recommendations responses", "adds 400 and 401",
               "Every operation authenticates (401) and validates the session id (400), like the others.", _form_recommendations_errors),
    Correction("every per-session read and thread operation", "adds 409 `{error, status}`",
               "A session still queued/processing (or failed) has no results yet; 409 says so instead of empty numbers.", _processing_409),
    Correction("every per-session read and thread operation", "adds 503 `{error, status: \"damaged\"}`",
               "A session whose lake files are missing or corrupt cannot be answered; 503 names the damage and the repair "
               "command instead of a bare 500, and every other session keeps answering.", _damaged_503),
    Correction("securitySchemes.Bearer", "description also names `Authorization: API-KEY <key>`",
               "The prose asks for the API key in the Authorization header; the scheme only named Bearer.", _security),
    Correction("servers", "`https://api.aikynetix.app` -> `/`", "Served by this deployment.", _servers),
    Correction("every `session_id` path parameter", "`pattern: ^[A-Za-z0-9_-]{1,64}$`, `minLength` 1, `maxLength` 64",
               "The server refuses any other id with 400 before a query (`api.settings.SESSION_ID_RE`); the schema says so, "
               "so clients and schema-driven tests know the rule.", _id_pattern),
)


def shared_spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


@lru_cache(maxsize=1)
def _corrected() -> str:
    spec = shared_spec()
    for correction in CORRECTIONS:
        correction.apply(spec)
    return json.dumps(spec)


def corrected_spec() -> dict[str, Any]:
    """The shared spec with every correction applied (what contract tests validate against)."""
    return json.loads(_corrected())


#: A published reference range of a metric (``analysis.catalogue.Reference``), an extension.
REFERENCE = {
    "type": "object", "required": ["low", "high", "unit", "source", "conditions"],
    "description": "Extension: the published typical range of the metric (SI, the metric's unit), with its "
                   "source and the conditions it holds for; absent where no defensible range exists.",
    "properties": {"low": {"type": "number"}, "high": {"type": "number"}, "unit": {"type": "string"},
                   "source": {"type": "string"}, "conditions": {"type": "string"}},
}


def _reference_ranges(spec: dict) -> None:
    """Name the reference-range extensions in the app's document: ``reference`` beside each
    summary metric's statistics, ``reference_ranges`` beside the form-analysis metrics."""
    summary = _ok_schema(spec, "/running/sessions/{session_id}/summary/", "get")["properties"]
    for block in ("performance_metrics", "running_mechanics", "balance_and_posture"):
        for prop in summary[block]["properties"].values():
            if prop.get("type") == "object":
                prop["properties"]["reference"] = REFERENCE
    form = _ok_schema(spec, "/running/sessions/{session_id}/form-analysis/", "post")["properties"]
    form["reference_ranges"] = {"type": "object", "additionalProperties": REFERENCE,
                                "description": "Extension: form metric -> its published reference range."}


def _extensions(spec: dict) -> None:
    security = [{"Bearer": []}, {"ApiKeyAuth": []}]
    _reference_ranges(spec)
    spec["paths"]["/running/threads/{thread_id}/"] = {
        "get": {
            "operationId": "running_threads_read",
            "summary": "Read a commentary thread (extension)",
            "description": "Status and text of a thread created by the summary, form-recommendations or recommendation operations. "
                           "`text` stays null while `status` is `pending`. The rule engine fills threads before the 201; "
                           "with an LLM configured they are `pending` until it answers (or falls back to the rules).",
            "tags": ["running", "extensions"],
            "security": security,
            "parameters": [{"name": "thread_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": {"description": "The thread.", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["id", "session_id", "kind", "block", "status", "text", "created_at"],
                    "properties": {
                        "id": {"type": "string"}, "session_id": {"type": "string"}, "kind": {"type": "string"},
                        "block": {"type": "string"}, "status": {"type": "string", "enum": ["pending", "done", "failed"]},
                        "text": {"type": ["string", "null"]}, "created_at": {"type": "string", "format": "date-time"},
                        "engine": {"type": ["string", "null"], "description": "`rules` or `llm:<model>`; null while pending."},
                        "fallback_reason": {"type": ["string", "null"],
                                            "description": "Why the rule engine wrote the text although an LLM is configured."},
                    }}}}},
                "400": _error("Bad Request - invalid thread id."),
                "401": _error("Unauthorized - missing or invalid credentials."),
                "404": _error("Not Found - no such thread visible to the caller."),
            },
        }
    }
    spec["paths"]["/files/{key}"] = {
        "get": {
            "operationId": "files_read",
            "summary": "Download a stored video or image through a signed link (extension)",
            "description": "Links in reports point here when the object store is local. They expire; the signature is the credential.",
            "tags": ["extensions"],
            "security": [],
            "parameters": [
                {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "expires", "in": "query", "required": True, "schema": {"type": "integer"}},
                {"name": "sig", "in": "query", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {"description": "The file (range requests supported).", "content": {"application/octet-stream": {}}},
                "403": _error("Forbidden - missing, invalid or expired signature."),
                "404": _error("Not Found."),
            },
        }
    }


def app_openapi(version: str = "") -> dict[str, Any]:
    spec = corrected_spec()
    _extensions(spec)
    _id_pattern(spec)   # the extensions' thread_id too
    spec["info"] = dict(spec["info"], **({"x-gaitlake-version": version} if version else {}))
    spec["info"]["description"] = (
        "gaitlake's implementation of the running-sessions API. Corrections to the shared spec and extensions "
        "are listed in docs/api.md."
    )
    return spec
