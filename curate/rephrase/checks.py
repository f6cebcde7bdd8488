"""Is an answer usable? Empty, cut off, an echo of the input, or a refusal are flagged, not kept
silently. Statuses, in the order a document reports them when its chunks disagree (the first
non-ok one wins; a failed chunk beats them all):"""

from __future__ import annotations

import re

OK, EMPTY, TRUNCATED, ECHO, REFUSAL, SKIPPED = "ok", "empty", "truncated", "echo", "refusal", "skipped"
FAILED = "failed"  # written as failed:<cause>
SEVERITY = [REFUSAL, ECHO, TRUNCATED, EMPTY]

# openings of a refusal; matched at the start of the answer only, case-insensitively
REFUSAL_OPENINGS = re.compile(
    r"^\W*(?:i(?:'|’)?m sorry|i am sorry|sorry,|i apologi[sz]e|i (?:can ?not|can(?:'|’)t|won(?:'|’)t|am unable to|"
    r"am not able to|'m unable to|(?:'|’)m not able to)|as an ai\b|unfortunately,? i (?:can|am)|"
    r"i do not feel comfortable|i don(?:'|’)t feel comfortable)", re.IGNORECASE)
WORD = re.compile(r"\w+", re.UNICODE)
SHINGLE = 4


def classify(answer: str, finish_reason: str | None, chunk: str, prompt: str | None = None,
             echo_threshold: float = 0.8) -> str:
    """The status of one chunk's answer given the chunk it rewrote. Echoes are measured against
    the whole prompt, so an answer that repeats the instructions with the document counts too."""
    if not answer or not answer.strip():
        return EMPTY
    if finish_reason == "length":
        return TRUNCATED
    if is_refusal(answer, chunk):
        return REFUSAL
    if echo_score(answer, prompt or chunk) >= echo_threshold:
        return ECHO
    return OK


def is_refusal(answer: str, source: str) -> bool:
    # a source that itself opens with "I'm sorry..." is rewritten, not refused
    return bool(REFUSAL_OPENINGS.match(answer[:200])) and not REFUSAL_OPENINGS.match(source[:200])


def echo_score(answer: str, source: str) -> float:
    """The share of the answer's word 4-grams (lower-cased) found in the source: 1.0 for a copy,
    near 0 for a real rewrite. Answers under four words compare as whole word sequences."""
    a = [w.lower() for w in WORD.findall(answer)]
    if not a:
        return 0.0
    s = [w.lower() for w in WORD.findall(source)]
    if len(a) < SHINGLE:
        joined = " ".join(a)
        return 1.0 if joined in " ".join(s) else 0.0
    grams = {tuple(a[i:i + SHINGLE]) for i in range(len(a) - SHINGLE + 1)}
    source_grams = {tuple(s[i:i + SHINGLE]) for i in range(len(s) - SHINGLE + 1)}
    return len(grams & source_grams) / len(grams)


def document_status(chunk_statuses: list[str]) -> str:
    for status in chunk_statuses:
        if status.startswith(FAILED):
            return status
    for status in SEVERITY:
        if status in chunk_statuses:
            return status
    return OK
