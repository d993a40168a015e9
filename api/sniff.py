"""Is this a video? Magic bytes of the containers we accept (MP4/MOV/M4V, AVI, MKV/WebM)."""
from __future__ import annotations

HEAD_BYTES = 64

_ISO_BMFF_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def sniff_video(head: bytes) -> str | None:
    """The container name when ``head`` (the first bytes) looks like a video we accept, else None."""
    if len(head) >= 12 and head[4:8] in _ISO_BMFF_BOXES:
        if head[4:8] == b"ftyp":
            brand = head[8:12]
            return "mov" if brand == b"qt  " else "mp4"
        return "mov"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML
        return "webm" if b"webm" in head[:64] else "mkv"
    return None


def describe_non_video(head: bytes, content_type: str | None) -> str:
    kind = "empty" if not head else None
    if kind is None:
        signatures = {
            b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
            b"%PDF": "a PDF document", b"PK\x03\x04": "a ZIP archive", b"\x7fELF": "an executable",
        }
        kind = next((name for magic, name in signatures.items() if head.startswith(magic)), None)
        if kind is None and head[:1] in (b"{", b"[", b"<") or (head and all(32 <= c < 127 or c in (9, 10, 13) for c in head)):
            kind = kind or "text"
    what = f"looks like {kind}" if kind else "is not a recognised video container"
    hint = f" (declared as {content_type})" if content_type else ""
    return f"the uploaded file {what}{hint}; upload an MP4, MOV, AVI, MKV or WebM video"
