"""Prompt styles after "Rephrasing the Web" (Maini et al. 2024), written in our own words.

A prompt is a template with one `{text}` placeholder, sent as the user message. The built-in
styles are versioned by PROMPT_VERSION; the cache key also holds a hash of the template itself,
so editing or overriding a prompt never serves answers written for another one.
"""

from __future__ import annotations

import hashlib

from curate.errors import CurateError

PROMPT_VERSION = "1"
PLACEHOLDER = "{text}"

STYLES: dict[str, str] = {
    "wikipedia": (
        "Rewrite the passage below as it would read in a Wikipedia article: neutral, factual, well "
        "organised English prose in complete sentences. Keep every fact and name; drop advertising, "
        "navigation text and filler. Reply with the rewritten passage only.\n\nPassage:\n{text}"
    ),
    "easy": (
        "Rewrite the passage below in plain, simple English that a young child could follow: short "
        "sentences, everyday words, the same facts. Reply with the rewritten passage only.\n\nPassage:\n{text}"
    ),
    "hard": (
        "Rewrite the passage below in terse, precise, scholarly English, in the register of an "
        "academic paper: dense sentences, exact terminology, no filler. Keep every fact. Reply with "
        "the rewritten passage only.\n\nPassage:\n{text}"
    ),
    "qa": (
        "Turn the passage below into a set of questions and answers that together cover all of its "
        "information. Write each pair as \"Question: ...\" on one line and \"Answer: ...\" on the next. "
        "Reply with the questions and answers only.\n\nPassage:\n{text}"
    ),
}


def resolve_prompt(style: str, prompts: dict[str, str] | None = None) -> str:
    """The template for `style`: the user's override if given, else the built-in one."""
    template = (prompts or {}).get(style) or STYLES.get(style)
    if template is None:
        known = sorted(set(STYLES) | set(prompts or {}))
        raise CurateError(f"rephrase style {style!r} is unknown: choose one of {', '.join(known)} "
                          "or pass prompts={style: template}")
    if template.count(PLACEHOLDER) != 1:
        raise CurateError(f"rephrase prompt for style {style!r} must contain {PLACEHOLDER} exactly once")
    return template


def render(template: str, text: str) -> str:
    # replace, not str.format: the template may hold other braces (JSON examples, code)
    return template.replace(PLACEHOLDER, text)


def prompt_id(template: str) -> str:
    """PROMPT_VERSION plus a hash of the template text: part of every cache key."""
    return f"v{PROMPT_VERSION}:{hashlib.sha256(template.encode('utf-8')).hexdigest()[:16]}"
