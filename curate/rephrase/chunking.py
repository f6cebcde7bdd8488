"""Split long documents into chunks that fit the model's context, and join the answers back.

Chunks follow the document's own structure: whole paragraphs are packed greedily up to the
budget; a paragraph too long on its own is split into lines, then sentences, then words, then
characters. Each chunk remembers the whitespace that separated it from the one before, so the
rephrased chunks are rejoined in order with the same kind of break (paragraph, line or space).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

# split patterns, coarsest first; each keeps the separator (capturing group) so nothing is lost
LEVELS = [re.compile(r"(\n[ \t]*\n\s*)"), re.compile(r"(\n\s*)"),
          re.compile(r"(?<=[.!?\u3002\uff01\uff1f])(\s+)"), re.compile(r"(\s+)")]
SAFETY_TOKENS = 32  # chat-template tokens and estimate error


def estimate_tokens(text: str) -> int:
    """A conservative token count without a tokenizer: about 3 UTF-8 bytes per token (English BPE
    vocabularies average ~4 characters per token; CJK text ~1 character, i.e. 3 bytes)."""
    if not text:
        return 0
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    return math.ceil(size / 3)


@dataclass
class Chunk:
    text: str
    separator: str  # what stood between this chunk and the previous one ("" for the first)


def chunk_budget(context_tokens: int, max_tokens: int, prompt_tokens: int) -> int:
    """Tokens one chunk may take: the context minus the prompt, the answer and a margin; and no
    more than max_tokens, since a rephrase is about as long as its input and must fit the answer."""
    return min(context_tokens - prompt_tokens - max_tokens - SAFETY_TOKENS, max_tokens)


def split_document(text: str, budget: int, count: Callable[[str], int] = estimate_tokens) -> list[Chunk]:
    if budget < 1:
        raise ValueError(f"chunk budget {budget} < 1")
    if count(text) <= budget:
        return [Chunk(text, "")]
    chunks: list[Chunk] = []
    _split(text, "", 0, budget, count, chunks)
    return chunks


def _split(text: str, separator: str, level: int, budget: int, count, out: list[Chunk]) -> None:
    """Append chunks of `text` (which follows `separator`) to out, packing pieces of this level."""
    if level >= len(LEVELS):  # one "word" longer than the budget: cut by characters
        step = max(1, len(text) * budget // max(1, count(text)))
        for start in range(0, len(text), step):
            out.append(Chunk(text[start:start + step], separator if start == 0 else ""))
        return
    parts = LEVELS[level].split(text)
    # parts = [piece, sep, piece, sep, ..., piece]; an empty piece passes its separator on
    current, current_sep, pending = "", separator, ""
    for i in range(0, len(parts), 2):
        piece, sep_before = parts[i], pending + (parts[i - 1] if i else separator)
        pending = ""
        if not piece:
            if current:
                current += sep_before
            else:
                pending = sep_before
            continue
        if current and count(current + sep_before + piece) <= budget:
            current += sep_before + piece
            continue
        if current:
            out.append(Chunk(current, current_sep))
            current = ""
        if count(piece) <= budget:
            current, current_sep = piece, sep_before
        else:
            _split(piece, sep_before, level + 1, budget, count, out)
    if current:
        out.append(Chunk(current, current_sep))
    elif pending and out:  # trailing whitespace: keep it on the last chunk (answers are stripped anyway)
        out[-1].text += pending


def join_chunks(chunks: list[Chunk], answers: list[str]) -> str:
    """Rejoin the answers in chunk order, with a paragraph break, line break or space where the
    source had one (a chunk boundary inside a word or sentence gets a space)."""
    pieces = []
    for i, (chunk, answer) in enumerate(zip(chunks, answers)):
        if i:
            sep = chunk.separator
            pieces.append("\n\n" if sep.count("\n") >= 2 else "\n" if "\n" in sep else " ")
        pieces.append(answer.strip())
    return "".join(pieces)
