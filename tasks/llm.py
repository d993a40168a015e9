"""Optional LLM commentary: any OpenAI-compatible chat-completions endpoint.

The model is given the session's metrics and the rule engine's findings
(``analysis.commentary``) and asked to rewrite them as one coaching paragraph
without adding numbers of its own. Any failure — not configured, timeout,
HTTP error, malformed or empty answer, or an answer that drops the session's
numbers — falls back to the rule engine's text, and the reason is returned so
the caller can record it on the thread.

Configuration (a ``[llm]`` settings section when present, else the
environment): ``url`` (base URL such as ``http://host:8000/v1``, or the full
``.../chat/completions``), ``model``, ``api_key``, ``timeout_s``,
``max_tokens``, ``temperature``. Environment: ``GAITLAKE_LLM__URL``,
``GAITLAKE_LLM__MODEL``, ``GAITLAKE_LLM__API_KEY``, ``GAITLAKE_LLM__TIMEOUT_S``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ConfigDict

from analysis.commentary import Comment, SessionFacts, comment
from configs import LlmSettings

__all__ = ["LLMConfig", "LLMResult", "generate", "chat_url", "build_messages"]

SYSTEM_PROMPT = (
    "You are an experienced running coach writing feedback on a video gait analysis. "
    "Write one short paragraph (3-6 sentences) in the second person, warm and specific. "
    "Use ONLY the numbers given in the metrics and findings, in the units given; never invent "
    "measurements, injuries or diagnoses. Keep every reference range you mention as given. "
    "If a metric is null, say it could not be assessed. Plain text, no markdown, no headings."
)


class LLMConfig(LlmSettings):
    """The ``[llm]`` settings (fields declared once, in configs), frozen for one call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @property
    def enabled(self) -> bool:
        return bool(self.url and self.model)

    @classmethod
    def from_settings(cls, settings: Any = None, environ: dict[str, str] | None = None) -> "LLMConfig":
        """The ``[llm]`` section of gaitlake's settings (``GAITLAKE_LLM__*`` override it)."""
        if settings is None:
            from configs import load_settings

            settings = load_settings(environ)
        return cls(**settings.llm.model_dump())


@dataclass(frozen=True)
class LLMResult:
    text: str
    engine: str                 # "llm:<model>" or "rules"
    fallback_reason: str | None  # why the rule text was used (None when the LLM answered)
    rule: Comment


def chat_url(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


def build_messages(rule: Comment, facts: SessionFacts) -> list[dict[str, str]]:
    payload = {
        "block": rule.block, "kind": rule.kind, "measurement_system": rule.measurement_system,
        "metrics_si": {k: v for k, v in facts.metrics.items() if v is not None},
        "findings": [f.to_dict() for f in rule.findings],
        "rule_based_comment": rule.text,
    }
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": (
            f"Rewrite the rule-based comment for the '{rule.block}' block as a coach would say it, in "
            f"{rule.measurement_system} units, keeping its numbers. Data:\n" + json.dumps(payload, default=str))},
    ]


_NUM = re.compile(r"\d+(?:\.\d+)?")


def _keeps_numbers(text: str, rule_text: str) -> bool:
    """The answer should mention at least one of the numbers the rule text names (when it names any)."""
    wanted = set(_NUM.findall(rule_text))
    return not wanted or bool(wanted & set(_NUM.findall(text)))


def generate(kind: str, block: str, facts: SessionFacts, measurement_system: str = "metric",
             config: LLMConfig | None = None, client: httpx.Client | None = None) -> LLMResult:
    """LLM text for one block, or the rule text with the reason it was used."""
    rule = comment(kind, block, facts, measurement_system)
    config = config or LLMConfig.from_settings()
    if not config.enabled:
        return LLMResult(rule.text, "rules", "llm not configured", rule)
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    body = {"model": config.model, "messages": build_messages(rule, facts),
            "temperature": config.temperature, "max_tokens": config.max_tokens}
    try:
        if client is None:
            with httpx.Client(timeout=config.timeout_s) as c:
                response = c.post(chat_url(config.url), json=body, headers=headers)
        else:
            response = client.post(chat_url(config.url), json=body, headers=headers, timeout=config.timeout_s)
        response.raise_for_status()
        data = response.json()
        text = (data["choices"][0]["message"]["content"] or "").strip()
    except httpx.TimeoutException:
        return LLMResult(rule.text, "rules", f"llm timeout after {config.timeout_s:g} s", rule)
    except httpx.HTTPStatusError as exc:
        return LLMResult(rule.text, "rules", f"llm http {exc.response.status_code}", rule)
    except httpx.HTTPError as exc:
        return LLMResult(rule.text, "rules", f"llm unreachable: {exc.__class__.__name__}", rule)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        return LLMResult(rule.text, "rules", f"llm answer malformed: {exc.__class__.__name__}", rule)
    if not text:
        return LLMResult(rule.text, "rules", "llm answer empty", rule)
    if not _keeps_numbers(text, rule.text):
        return LLMResult(rule.text, "rules", "llm answer dropped the session's numbers", rule)
    return LLMResult(text, f"llm:{config.model}", None, rule)
