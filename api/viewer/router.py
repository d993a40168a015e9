"""The coach's pages under ``/app/`` and their JSON and download endpoints (docs/viewer.md).

Served by the API process: ``install_viewer(app, catalog=..., reader=..., linker=...,
authenticate=...)`` adds the routes and the static files. Authentication is the
API's (``Authorization: API-KEY``/``Bearer``, ``API-KEY`` header) or the signed,
HttpOnly, SameSite=Strict cookie the sign-in form sets. Tenancy is the API's
:func:`api.tenancy.session_view`: someone else's session is the same
not-found page (404) as a missing one. The plan gate is the API's
(:func:`api.tenancy.require_paid_plan`): without a paid plan the page and the
report downloads leave out what the API's paid reports refuse.
"""
from __future__ import annotations

import gzip
import html
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from cachetools import LRUCache
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select

from analysis.catalogue import by_name
from analysis.vocabulary import ANGLE_KEYS  # the MOT's columns (contact_angle is a per-stride metric)
from api import reports
from api.auth import Authenticator, Principal
from api.errors import ApiError, damaged_message
from api.links import Linker
from api.tenancy import PLAN_REQUIRED, check_session_id, has_paid_plan, managed_user_ids, require_paid_plan, session_view, visible_session
from api.viewer import exports, view
from api.viewer.cookies import COOKIE_NAME, COOKIE_PATH, CookieSigner
from storage.catalog import Catalog, RunningSession, SessionStatus, User
from storage.lake import DamagedRun

log = logging.getLogger("gaitlake.viewer")
STATIC = Path(__file__).with_name("static")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
       "media-src 'self' https:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
REFRESH_S = 2

#: name -> (content type, label)
DOWNLOADS: dict[str, tuple[str, str]] = {
    "frames.csv": ("text/csv; charset=utf-8", "Per-frame table (CSV)"),
    "frames.parquet": ("application/vnd.apache.parquet", "Per-frame table (Parquet)"),
    "strides.csv": ("text/csv; charset=utf-8", "Per-stride table (CSV)"),
    "strides.parquet": ("application/vnd.apache.parquet", "Per-stride table (Parquet)"),
    "keypoints.trc": ("text/plain; charset=utf-8", "Keypoints in metres (OpenSim TRC)"),
    "angles.mot": ("text/plain; charset=utf-8", "Joint angles (OpenSim MOT)"),
    "report.png": ("image/png", "Chart report (PNG)"),
    "report.pdf": ("application/pdf", "Report (PDF)"),
}
#: Downloads that show what the API's paid reports show (summary metrics, gait curves and phases,
#: commentary): behind the same plan gate (:func:`api.tenancy.require_paid_plan`).
PAID_DOWNLOADS = ("report.png", "report.pdf")
#: The viewer's refusal of a paid download without a paid plan (the page never links it then).
PLAN_STATUS = 403

# metric formatting for the PDF (the page formats in the browser, in either unit system)
_PDF_UNITS = {"cadence": ("{:.0f}", "spm", 1), "time": ("{:.0f}", "ms", 1000), "ratio": ("{:.2f}", "", 1),
              "length": ("{:.2f}", "m", 1), "speed": ("{:.2f}", "m/s", 1),
              "power": ("{:.0f}", "W", 1), "power_per_kg": ("{:.1f}", "W/kg", 1), "percent": ("{:.1f}", "%", 1),
              "angle": ("{:.1f}", "deg", 1), "short_length": ("{:.1f}", "cm", 100), "duration": ("{:.1f}", "s", 1)}


def _pdf_text(card: dict[str, Any]) -> str:
    value = card.get("value")
    if value is None:
        return "not measured"
    if card["unit"] == "text":
        return str(value) + (f"; {card['detail']}" if card.get("detail") else "")
    if card["unit"] == "pace":
        seconds = round(value * 60)
        return f"{seconds // 60}:{seconds % 60:02d} min/km"
    fmt, unit, factor = _PDF_UNITS[card["unit"]]
    text = (fmt.format(value * factor) + (f" {unit}" if unit else "")).strip()
    return text + (f" {card['resolution']}" if card.get("resolution") else "")


def _pdf_number(value: float, unit: str) -> str:
    fmt, _, factor = _PDF_UNITS[unit]
    return fmt.format(value * factor)


def _pdf_reference(card: dict[str, Any]) -> str | None:
    """The PDF's sentence on where the runner sits against the card's normal range
    (``Within the normal range 160-180 spm (Heiderscheit et al. 2011).``); None without a range."""
    ref = card.get("reference")
    if ref is None or card["unit"] not in _PDF_UNITS:
        return None
    unit = _PDF_UNITS[card["unit"]][1]
    span = f"{_pdf_number(ref['low'], card['unit'])}\u2013{_pdf_number(ref['high'], card['unit'])}" + (f" {unit}" if unit else "")
    where = {"below": "Below the normal range", "within": "Within the normal range",
             "above": "Above the normal range"}.get(ref.get("position"), "Normal range")
    return f"{where} {span} ({by_name(card['key']).reference.short_source})."


def _pdf_sources(cards: list[dict[str, Any]]) -> list[str]:
    """One line per card with a normal range: its label, full source and the conditions it holds for."""
    return [f"{c['label']}: {c['reference']['source']}. {c['reference']['conditions'][:1].upper()}"
            f"{c['reference']['conditions'][1:]}." for c in cards if c.get("reference")]


def page(title: str, name: str, body: str, **data: str) -> str:
    attrs = "".join(f' data-{k.replace("_", "-")}="{html.escape(v)}"' for k, v in data.items())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · gaitlake</title>
<link rel="icon" href="/app/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/app/static/viewer.css">
</head>
<body data-page="{name}"{attrs}>
<header class="top"><a class="brand" href="/app/sessions">gaitlake</a><nav id="nav"></nav></header>
<main id="main">{body}</main>
<script src="/app/static/viewer.js"></script>
</body>
</html>
"""


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store",
                                                           "X-Content-Type-Options": "nosniff"})


SIGN_IN_FORM = """<section class="signin card">
<h1>Sign in</h1>
<p>Paste the API key you were given (<code>gaitlake keys create</code>).</p>
{error}
<form method="post" action="/app/sign-in">
<input type="hidden" name="next" value="{next}">
<label for="api_key">API key</label>
<input id="api_key" name="api_key" type="password" autocomplete="current-password" required placeholder="glk_...">
<button type="submit">Sign in</button>
</form>
</section>"""

NOT_FOUND = """<section class="card notfound"><h1>Session not found</h1>
<p>There is no session with this id that you can see.</p><p><a href="/app/sessions">All sessions</a></p></section>"""


def _safe_next(value: str | None) -> str:
    if value and re.fullmatch(r"/app/[A-Za-z0-9_/\-]*", value) and "//" not in value:
        return value
    return "/app/sessions"


def _origin(url: str | None) -> str | None:
    """``scheme://host[:port]`` of a URL (lowercase), None when it has none (``null``, garbage)."""
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme in ("http", "https") and parts.netloc else None


def same_origin_post(request: Request, public_base_url: str = "") -> bool:
    """Whether a form POST comes from a page of this server (login CSRF: a foreign page must not sign
    a victim's browser in as the attacker). Browsers send ``Origin`` on every cross-origin POST;
    it (else ``Referer``) must name this server, as the request reached it or as
    ``api.public_base_url`` says (behind a proxy). ``Origin: null`` (a sandboxed or privacy-stripped
    page) is refused. A request with neither header comes from no browser page and passes."""
    allowed = {_origin(str(request.base_url)), _origin(public_base_url)} - {None}
    origin = request.headers.get("origin")
    if origin is not None:
        return _origin(origin) in allowed
    referer = request.headers.get("referer")
    return referer is None or _origin(referer) in allowed


@dataclass(frozen=True)
class Viewer:
    """What the viewer's routes use (one per app, ``app.state.viewer``)."""

    catalog: Catalog
    reader: reports.LakeReader
    linker: Linker
    authenticate: Authenticator
    signer: CookieSigner
    #: the few most recently read frames tables (a session page reads them for its series and downloads)
    frames_cache: LRUCache = field(default_factory=lambda: LRUCache(maxsize=8))
    frames_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def lake(self):
        return self.reader.lake

    def caller(self, request: Request) -> Principal | None:
        """The API's credentials when sent (a bad one is 401), else the sign-in cookie."""
        auth, key = request.headers.get("authorization"), request.headers.get("api-key")
        if auth or key:
            return self.authenticate(auth, key)
        return self.signer.principal(self.catalog, request.cookies.get(COOKIE_NAME))

    def require(self, request: Request) -> Principal:
        who = self.caller(request)
        if who is None:
            raise ApiError(401, "sign in at /app/ or send 'Authorization: API-KEY <key>'")
        return who

    def page_caller(self, request: Request) -> Principal | None:
        try:
            return self.caller(request)
        except ApiError:
            return None

    def done_record(self, who: Principal, session_id: str, paid: bool = False) -> tuple[RunningSession, User, reports.SessionRecord]:
        """The caller's finished session and its served run; 409 while processing or failed, 404 without
        results; ``paid``: 403 unless the owner's plan passes the API's plan gate (checked first, as the API does)."""
        check_session_id(session_id)
        found = session_view(self.catalog, who, session_id)
        if paid:
            require_paid_plan(found.plan, PLAN_STATUS)
        row, user = found.session, found.owner
        if row.status != SessionStatus.DONE:
            if row.status == SessionStatus.FAILED:
                raise ApiError(409, f"session processing failed: {row.error or 'unknown reason'}", status="failed")
            raise ApiError(409, "session is still processing", status=str(row.status))
        record = self.reader.record(row)
        if record is None:
            raise ApiError(404, "session results are not available")
        return row, user, record

    def table(self, record: reports.SessionRecord, name: str):
        """One table of the served run (``frames`` from the cache); 404 when the run has none."""
        key = (record.session_id, record.pipeline_version)
        if name == "frames":
            with self.frames_lock:
                table = self.frames_cache.get(key)
        else:
            table = None
        if table is None:
            table = self.lake.read_table(record.session_id, name,
                                         manifest=self.lake.manifest(record.session_id, record.pipeline_version))
            if table is not None and name == "frames":
                with self.frames_lock:
                    self.frames_cache[key] = table
        if table is None:
            raise ApiError(404, f"this session has no {name} table")
        return table

    def frames_or_none(self, record: reports.SessionRecord):
        try:
            return self.table(record, "frames")
        except ApiError:
            return None

    def record_or_damage(self, row: RunningSession) -> tuple[reports.SessionRecord | None, str | None]:
        """(served record, None), or (None, what is damaged and how to repair it) when the session's lake
        files are damaged: one damaged session is one damaged row or page, never the list or the
        runner's other pages (their 503 is the API's answer for that one session only)."""
        try:
            return self.reader.record(row), None
        except DamagedRun as exc:
            log.warning("viewer: damaged lake results: %s (repair: %s)", exc, exc.repair)
            return None, damaged_message(exc)

    def saved_texts(self, session_id: str) -> dict[str, dict]:
        with self.catalog.session() as db:
            return {kind: reports.latest_thread_texts(db, session_id, kind) for kind in ("summary", "form", "recommendation")}


async def viewer(request: Request) -> Viewer:  # async: no thread hop for a lookup
    return request.app.state.viewer


ViewerDep = Annotated[Viewer, Depends(viewer)]
router = APIRouter(prefix="/app", include_in_schema=False)


def _to_sign_in(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/app/?next={quote(request.url.path)}", status_code=303)


def _nav(who: Principal) -> dict[str, str]:
    return {"user": who.email}


def _profile(row: RunningSession, user: User) -> dict[str, Any]:
    return {"height_cm": row.height_cm or user.height_cm, "weight_kg": row.weight_kg or user.weight_kg}


# -- pages -------------------------------------------------------------------------
@router.get("/")
def sign_in_page(v: ViewerDep, request: Request, next: str | None = None):
    if v.page_caller(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _html(page("Sign in", "signin", SIGN_IN_FORM.format(error="", next=html.escape(_safe_next(next)))))


@router.post("/sign-in")
async def sign_in(v: ViewerDep, request: Request):
    form = await request.form()
    key = str(form.get("api_key") or "").strip()
    target = _safe_next(str(form.get("next") or ""))
    if not same_origin_post(request, v.linker.public_base_url):
        log.warning("viewer: sign-in refused: posted from %s", request.headers.get("origin") or request.headers.get("referer"))
        body = SIGN_IN_FORM.format(error='<p class="error" role="alert">Sign in from this site\'s own form.</p>',
                                   next=html.escape(target))
        return _html(page("Sign in", "signin", body), status=403)
    try:
        who = v.authenticate(f"API-KEY {key}", None) if key else None
    except ApiError:
        who = None
    if who is None:
        body = SIGN_IN_FORM.format(error='<p class="error" role="alert">That API key is not valid.</p>',
                                   next=html.escape(target))
        return _html(page("Sign in", "signin", body), status=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE_NAME, v.signer.issue(who.user_id, key), max_age=v.signer.ttl_s, path=COOKIE_PATH,
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/sign-out")
def sign_out(v: ViewerDep, request: Request):
    if not same_origin_post(request, v.linker.public_base_url):   # a foreign page must not sign anyone out either
        raise ApiError(403, "sign out from this site's own pages")
    response = RedirectResponse("/app/", status_code=303)
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="strict")
    return response


@router.get("/sessions")
def sessions_page(v: ViewerDep, request: Request):
    who = v.page_caller(request)
    if who is None:
        return _to_sign_in(request)
    body = '<section class="card"><h1>Sessions</h1><div id="sessions" aria-live="polite">Loading…</div></section>'
    return _html(page("Sessions", "sessions", body, **_nav(who)))


@router.get("/sessions/{session_id}")
def session_page(v: ViewerDep, request: Request, session_id: str):
    who = v.page_caller(request)
    if who is None:
        return _to_sign_in(request)
    try:
        row, _ = visible_session(v.catalog, who, session_id)
    except ApiError:  # invalid, missing or someone else's: one page for all three
        return _html(page("Not found", "notfound", NOT_FOUND, **_nav(who)), status=404)
    body = '<div id="session" aria-live="polite"><p class="card">Loading…</p></div>'
    return _html(page(row.title, "session", body, session_id=row.id, **_nav(who)))


# -- JSON --------------------------------------------------------------------------
@router.get("/api/sessions")
def list_sessions(v: ViewerDep, request: Request):
    who = v.require(request)
    with v.catalog.session() as db:
        users = managed_user_ids(db, who)
        rows = list(db.scalars(select(RunningSession).where(RunningSession.user_id.in_(users))
                               .order_by(RunningSession.created_at.desc()).limit(view.LIST_LIMIT)))
        ids = {r.user_id for r in rows if r.user_id}
        names = {u.id: (u.name or u.email) for u in db.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    items = [view.list_item(r, names.get(r.user_id, ""), *(v.record_or_damage(r) if r.status == SessionStatus.DONE else (None, None)))
             for r in rows]
    return JSONResponse({"sessions": items, "user": who.email, "limit": view.LIST_LIMIT})


def _video_block(v: Viewer, row: RunningSession, record: reports.SessionRecord, base: str) -> dict[str, Any]:
    """The analysed video when rendered (else the source), with its exact frame rate."""
    r = record.row
    images = record.doc("images_doc")
    video_key = images.get("video") or r.get("analyzed_video_key")
    analysed = bool(video_key)
    video_key = video_key or r.get("video_key") or row.video_key
    info = images.get("video_info") or {}
    fps = reports.number_or_none(r.get("fps")) or 30.0
    rate = info.get("rate")
    if isinstance(rate, str) and "/" in rate:
        num, den = rate.split("/")
        fps = float(num) / float(den) if float(den) else fps
    return {"url": v.linker.url(video_key, base), "analysed": analysed, "fps": fps,
            "frames": info.get("frames") or reports.number_or_none(r.get("n_frames")),
            "width": info.get("width") or r.get("width"), "height": info.get("height") or r.get("height")}


def _done_blocks(v: Viewer, row: RunningSession, user: User, record: reports.SessionRecord, base: str,
                 paid: bool) -> dict[str, Any]:
    """Everything the page shows of a finished session. Without a paid plan (``paid`` false: the API's
    plan gate, :func:`api.tenancy.require_paid_plan`) what the API's paid reports hold stays out:
    the metric cards (its summary), the gait phases and curves (its gait analysis), the commentary
    (its threads) and the downloads that draw them; ``plan_required`` says why."""
    video = _video_block(v, row, record, base)
    notes = view.session_notes(record)
    with v.catalog.session() as db:
        history_rows = list(db.scalars(
            select(RunningSession).where(RunningSession.user_id == row.user_id, RunningSession.status == SessionStatus.DONE)
            .order_by(RunningSession.created_at.desc()).limit(view.HISTORY_LIMIT)))
    blocks: dict[str, Any] = {
        "video": video,
        "series": view.frame_series(record, v.frames_or_none(record), row.joints or "all"),
        "notes": notes,
        "near_leg": record.quality().near_leg,
        "cards": [], "gait": {}, "commentary": {}, "plan_required": PLAN_REQUIRED,
        "history": [view.history_item(h, v.record_or_damage(h)[0], row.id) for h in reversed(history_rows)],
        "downloads": [{"name": name, "label": label, "type": ctype.split(";")[0],
                       "url": f"/app/api/sessions/{row.id}/downloads/{name}"} for name, (ctype, label) in DOWNLOADS.items()
                      if paid or name not in PAID_DOWNLOADS],
    }
    if paid:
        blocks.update(plan_required=None,
                      cards=view.cards(record.summary(), record.doc("summary_doc"), notes, record.quality()),
                      gait=view.gait(record, lambda key: v.linker.url(key, base), video["fps"]),
                      commentary=view.commentary(record, v.saved_texts(row.id), _profile(row, user)))
    return blocks


@router.get("/api/sessions/{session_id}")
def session_doc(v: ViewerDep, request: Request, session_id: str):
    who = v.require(request)
    check_session_id(session_id)
    found = session_view(v.catalog, who, session_id)
    row, user = found.session, found.owner
    created = reports.as_utc(row.created_at)
    doc: dict[str, Any] = {
        "id": row.id, "title": row.title, "status": str(row.status),
        "error": row.error if row.status == SessionStatus.FAILED else None,
        "date": created.isoformat() if created else None, "runner": {"id": user.id, "name": user.name or user.email},
        "incline_deg": row.incline_deg, "refresh_s": REFRESH_S,
    }
    if row.status != SessionStatus.DONE:
        return JSONResponse(doc, headers={"Cache-Control": "no-store"})
    record, damage = v.record_or_damage(row)
    if record is None and damage is None:
        doc.update(status="failed", error="the session's results are not in the lake")
        return JSONResponse(doc)
    if record is not None:
        try:
            doc.update(_done_blocks(v, row, user, record, str(request.base_url), has_paid_plan(found.plan)))
        except DamagedRun as exc:  # a table the page reads (frames, strides) is damaged past its footer
            log.warning("viewer: damaged lake results: %s (repair: %s)", exc, exc.repair)
            damage = damaged_message(exc)
    if damage is not None:
        doc.update(status="damaged", error=damage)
        return JSONResponse(doc, headers={"Cache-Control": "no-store"})
    body = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    headers = {"Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if len(body) >= 4096 and "gzip" in request.headers.get("accept-encoding", ""):   # per-frame series: ~5x smaller
        body, headers["Content-Encoding"] = gzip.compress(body, 5), "gzip"
    return Response(body, media_type="application/json", headers=headers)


# -- downloads ---------------------------------------------------------------------
def _report_png(v: Viewer, row: RunningSession, user: User, record: reports.SessionRecord) -> bytes:
    key = record.doc("images_doc").get("report")
    if key and v.lake.store.exists(key):
        return v.lake.store.read_bytes(key)
    from tasks.render import RenderData, render_report_png  # drawn from the lake when not rendered yet

    data = RenderData.from_tables(v.table(record, "frames"), record.row, v.table(record, "strides"))
    return render_report_png(data, row.title)


def _keypoints_trc(v: Viewer, row: RunningSession, user: User, record: reports.SessionRecord) -> bytes:
    frames = v.table(record, "frames")
    if not any(c.endswith("_x_m") and frames.column(c).null_count < frames.num_rows for c in frames.column_names):
        raise ApiError(404, "this session has no metric scale: keypoints in metres are not available")
    return exports.trc_text(frames, f"{row.id}.trc").encode()


def _angles_mot(v: Viewer, row: RunningSession, user: User, record: reports.SessionRecord) -> bytes:
    frames = v.table(record, "frames")
    angles = reports.filter_angles({c: frames.column(c).to_pylist() for c in frames.column_names if c in ANGLE_KEYS},
                                   row.joints or "all")
    return exports.mot_text(frames.column("time_s").to_pylist(), angles, f"{row.id} joint angles").encode()


def pdf_metric_rows(cards: list[dict[str, Any]], notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The PDF's metrics table (:func:`api.viewer.exports.report_pdf`): one row per page card
    (:func:`api.viewer.view.cards`), its value as text, its normal-range sentence and its notes."""
    return [{"label": card["label"], "text": _pdf_text(card), "reference": _pdf_reference(card),
             "notes": [view.note_sentence(notes, i) for i in card["notes"]]} for card in cards]


def _report_pdf(v: Viewer, row: RunningSession, user: User, record: reports.SessionRecord) -> bytes:
    notes = view.session_notes(record)
    cards = view.cards(record.summary(), record.doc("summary_doc"), notes, record.quality())
    card_rows = pdf_metric_rows(cards, notes)
    comments = view.commentary(record, v.saved_texts(row.id), _profile(row, user))
    texts = [(f"{kind} · {item['block'].replace('_', ' ')}", item["metric"]) for kind, items in comments.items()
             for item in items]
    gait = view.gait(record, lambda key: None, 0)
    curves = {side: gait[side]["curves"] for side in ("left", "right")}
    created = reports.as_utc(row.created_at)
    subtitle = f"{user.name or user.email} · {created:%d %b %Y %H:%M} UTC · session {row.id}"
    from tasks.render import RenderData
    from tasks.render.report import draw_report, near_far_text

    # the charts drawn as vectors on their own A4 page, from the lake (not the stored PNG)
    data = RenderData.from_tables(v.table(record, "frames"), record.row, v.table(record, "strides"))
    return exports.report_pdf(row.title, subtitle, card_rows, [n["text"] for n in notes], texts,
                              lambda fig: draw_report(fig, data, row.title, portrait=True), curves,
                              near_far_text(data.quality), data.quality.near_leg, _pdf_sources(cards))


def _table_file(stem: str, suffix: str):
    def build(v: Viewer, row: RunningSession, user: User, record: reports.SessionRecord) -> bytes:
        table = v.table(record, stem)
        return exports.table_csv(table) if suffix == "csv" else exports.table_parquet(table)
    return build


#: download name -> its builder (viewer, session row, owner, served run) -> bytes
BUILDERS = {**{f"{stem}.{suffix}": _table_file(stem, suffix) for stem in ("frames", "strides") for suffix in ("csv", "parquet")},
            "keypoints.trc": _keypoints_trc, "angles.mot": _angles_mot, "report.png": _report_png, "report.pdf": _report_pdf}


@router.get("/api/sessions/{session_id}/downloads/{name}")
def download(v: ViewerDep, request: Request, session_id: str, name: str):
    who = v.require(request)
    if name not in DOWNLOADS:
        raise ApiError(404, "no such download")
    row, user, record = v.done_record(who, session_id, paid=name in PAID_DOWNLOADS)
    body = BUILDERS[name](v, row, user, record)
    filename = f"gaitlake-{row.id}-{name}"
    return Response(body, media_type=DOWNLOADS[name][0], headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                                                   "Cache-Control": "private, max-age=60"})


def install_viewer(app: FastAPI, *, catalog: Catalog, reader: reports.LakeReader, linker: Linker,
                   authenticate: Authenticator, cookie_ttl_s: int | None = None) -> None:
    """Add the viewer's routes (``/app/...``) and static files to ``app``."""
    signer = CookieSigner(linker.secret, *([cookie_ttl_s] if cookie_ttl_s else []))
    app.state.viewer = Viewer(catalog, reader, linker, authenticate, signer)
    app.include_router(router)
    app.mount("/app/static", StaticFiles(directory=STATIC), name="viewer-static")
