"""Fill commentary threads with text: the rule engine at once, or the LLM engine in the background.

``create_threads`` (api/app.py) calls :func:`fill_threads` right after it has
created the pending rows. Without an LLM configured, every thread is written
synchronously with the rule engine (``analysis.commentary``) and is ``done``
before the 201 goes out. With one (``[llm]`` settings or ``GAITLAKE_LLM__*``),
the threads stay ``pending`` and a background task asks the LLM per block;
any failure falls back to the rule text and the reason is stored in the
thread's ``error`` column (``options.engine`` says which engine wrote it).
"""
from __future__ import annotations

import logging
from typing import Any

from analysis.commentary import SessionFacts, comment
from api import documents, reports
from storage.catalog import Thread, ThreadStatus, utcnow
from tasks.llm import LLMConfig, generate

log = logging.getLogger("gaitlake.api.threads")


def session_facts(record, session_row=None) -> SessionFacts:
    """The numbers commentary may use, from a served lake record (api.reports.SessionRecord)."""
    profile = {}
    if session_row is not None and getattr(session_row, "height_cm", None):
        profile["height_cm"] = session_row.height_cm
    return reports.session_facts(record, profile)


def _store(catalog, thread_id: str, text: str | None, engine: str, error: str | None, failed: bool = False) -> None:
    with catalog.session() as db:
        thread = db.get(Thread, thread_id)
        if thread is None:
            return
        thread.text = text
        thread.status = ThreadStatus.FAILED if failed else ThreadStatus.DONE
        thread.error = error
        thread.options = {**(thread.options or {}), "engine": engine}
        thread.updated_at = utcnow()


def fill_rules(catalog, kind: str, threads: dict[str, str], facts: SessionFacts, measurement_system: str = "metric",
               reason: str | None = None) -> None:
    """Write the rule engine's text into every thread (``reason``: why not the LLM, if it was meant to)."""
    for block, thread_id in threads.items():
        try:
            text = comment(kind, documents.comment_topic(kind, block), facts, measurement_system).text
        except Exception as exc:  # noqa: BLE001 - a thread records its own failure, the others still fill
            log.exception("rule commentary failed for %s/%s", kind, block)
            _store(catalog, thread_id, None, "rules", f"{exc.__class__.__name__}: {exc}", failed=True)
            continue
        _store(catalog, thread_id, text, "rules", reason)


def fill_llm(catalog, kind: str, threads: dict[str, str], facts: SessionFacts, measurement_system: str,
             config: LLMConfig) -> None:
    """Background task: the LLM engine per thread, rule text (and the reason) on any failure."""
    for block, thread_id in threads.items():
        try:
            result = generate(kind, documents.comment_topic(kind, block), facts, measurement_system, config)
        except Exception as exc:  # noqa: BLE001 - never leave a thread pending
            log.exception("llm commentary failed for %s/%s", kind, block)
            fill_rules(catalog, kind, {block: thread_id}, facts, measurement_system,
                       f"llm fallback: {exc.__class__.__name__}")
            continue
        reason = f"llm fallback: {result.fallback_reason}" if result.fallback_reason else None
        _store(catalog, thread_id, result.text, result.engine, reason)


def fill_threads(catalog, settings, kind: str, threads: dict[str, str], record, session_row,
                 options: dict[str, Any], background=None) -> None:
    """Rules now, or the LLM later through ``background`` (FastAPI BackgroundTasks)."""
    if record is None:
        for thread_id in threads.values():
            _store(catalog, thread_id, None, "rules", "session results are not available", failed=True)
        return
    facts = session_facts(record, session_row)
    system = options.get("measurement_system") or "metric"
    config = LLMConfig.from_settings(settings)
    if config.enabled and background is not None:
        background.add_task(fill_llm, catalog, kind, dict(threads), facts, system, config)
    else:
        fill_rules(catalog, kind, threads, facts, system)
