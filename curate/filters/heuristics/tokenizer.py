"""A fast word splitter that gives the words spaCy's English tokenizer gives.

datatrove's Gopher, C4 and FineWeb filters count words with `spacy.blank("en")`, and that
costs ~90% of their time. spaCy splits the text on whitespace and then splits each chunk with
prefix, suffix and infix rules and a table of special cases ("don't" -> "do", "n't"). The split
of a chunk does not depend on its neighbours, so we replay the same rules (spacy_en.json,
generated from spaCy by tools/make_spacy_rules.py) once per distinct chunk and cache the result:
real text reuses few chunks, so almost every chunk is a dictionary hit.

Words are interned as integer ids in a process-wide vocabulary whose per-word attributes
(length, "not only punctuation", "has a letter") live in numpy arrays, so the feature pass
works on arrays of ids instead of strings. The caches are cleared when they grow past a bound.
"""

from __future__ import annotations

import json
import re
import unicodedata
from itertools import chain
from pathlib import Path

import numpy as np

from datatrove.utils.text import PUNCTUATION_SET

_RULES = json.loads(Path(__file__).with_name("spacy_en.json").read_text(encoding="utf-8"))
_PREFIX = re.compile(_RULES["prefix"]).match  # every alternative starts with ^: match == search
_SUFFIX_RE = re.compile(_RULES["suffix"])
_SUFFIX_SPAN = 8  # longer than any fixed-length suffix rule ("km/h", "US$"); lookbehinds see further back


def _SUFFIX(string: str):
    """The suffix rule's match: every rule ends at $, so searching from 8 characters before the
    end finds it, unless it starts right there (only the `\\.\\.+` rule can reach further back)."""
    start = len(string) - _SUFFIX_SPAN
    if start <= 0:
        return _SUFFIX_RE.search(string)
    m = _SUFFIX_RE.search(string, start)
    return _SUFFIX_RE.search(string) if m is not None and m.start() == start else m
_INFIX = re.compile(_RULES["infix"]).finditer
_URL = re.compile(_RULES["url"]).match
SPECIALS: dict[str, list[str]] = _RULES["special_cases"]
_PUNCTUATION = frozenset(PUNCTUATION_SET)
_LINE_BREAK = "\x00\ufdd0"  # a chunk no text has: joins lines for sentence counting
SENTENCE_PUNCT = frozenset(_RULES["sentence_punct"])  # spaCy Sentencizer's default_punct_chars


def split_chunk(string: str) -> list[str]:
    """The tokens spaCy's English tokenizer makes of one whitespace-free chunk."""
    special = SPECIALS.get(string)
    if special is not None:
        return special
    if string.isalpha():  # no affix or infix rule matches letters only
        return [string]
    tokens = _common_shape(string)
    if tokens is not None:
        return _apply_special_cases(tokens)
    return _apply_special_cases(_split_affixes(string, SPECIALS))


def _common_shape(string: str) -> list[str] | None:
    """The affix rules' split of common chunk shapes without running them, or None: "word,",
    "word.", "(word", "well-known" (checked against the full rules in tests)."""
    head, last = string[:-1], string[-1]
    if head.isalpha():
        if last == ".":  # the "." suffix rule looks 2 characters back
            if head in SPECIALS:
                return None
            return [head, "."] if _SUFFIX(string[-3:]) else [string]
        if _SUFFIX_RE.search(last):  # other one-character suffixes need no context after letters
            return [*SPECIALS.get(head, (head,)), last]
        return None
    first, rest = string[0], string[1:]
    if rest.isalpha() and _PREFIX(first):  # a prefix before letters is one character long
        return [first, *SPECIALS.get(rest, (rest,))]
    if string.isascii() and "-" in string and "--" not in string and string.replace("-", "").isalpha() \
            and first != "-" and last != "-":  # hyphens between letters are infixes
        parts = string.split("-")
        return [token for part in parts for token in (part, "-")][:-1]
    return None


def _split_affixes(string: str, SPECIALS: dict) -> list[str]:
    """spaCy's Tokenizer._split_affixes + _attach_tokens (`SPECIALS={}`: without special cases)."""
    prefixes: list[str] = []
    suffixes: list[str] = []
    last_size = -1
    while string and len(string) != last_size:
        if string in SPECIALS:
            break
        last_size = len(string)
        m = _PREFIX(string)
        pre_len = m.end() - m.start() if m else 0
        if pre_len:
            prefix, minus_pre = string[:pre_len], string[pre_len:]
            if minus_pre and minus_pre in SPECIALS:
                string = minus_pre
                prefixes.append(prefix)
                break
        m = _SUFFIX(string[pre_len:])
        suf_len = m.end() - m.start() if m else 0
        if suf_len:
            suffix, minus_suf = string[-suf_len:], string[:-suf_len]
            if minus_suf and minus_suf in SPECIALS:
                string = minus_suf
                suffixes.append(suffix)
                break
        if pre_len and suf_len and pre_len + suf_len <= len(string):
            string = string[pre_len:-suf_len]
            prefixes.append(prefix)
            suffixes.append(suffix)
        elif pre_len:
            string = minus_pre
            prefixes.append(prefix)
        elif suf_len:
            string = minus_suf
            suffixes.append(suffix)
    tokens = prefixes
    if string:
        if string in SPECIALS:
            tokens.extend(SPECIALS[string])
        elif _URL(string):
            tokens.append(string)
        else:
            start = 0
            for m in _INFIX(string):
                s, e = m.start(), m.end()
                if s == 0:
                    continue
                if s != start:
                    tokens.append(string[start:s])
                if s != e:
                    tokens.append(string[s:e])
                start = e
            if string[start:]:
                tokens.append(string[start:])
    tokens.extend(reversed(suffixes))
    return tokens


def _special_patterns() -> tuple[dict, int]:
    # like spaCy (faster_heuristics), only special cases that an affix rule touches
    patterns = {tuple(_split_affixes(key, {})): key for key in SPECIALS
                if key.strip() and (_PREFIX(key) or _SUFFIX(key) or any(_INFIX(key)))}
    return patterns, max(map(len, patterns))


_PATTERNS, _MAX_PATTERN = _special_patterns()
_FIRST_TOKENS = frozenset(pattern[0] for pattern in _PATTERNS)


def _apply_special_cases(tokens: list[str]) -> list[str]:
    """spaCy's Tokenizer._apply_special_cases: a run of tokens that spells a special case the way
    the affix rules split it is replaced by the special case's tokens (longest runs first)."""
    if _FIRST_TOKENS.isdisjoint(tokens):
        return tokens
    matches = [(start, end) for start in range(len(tokens))
               for end in range(start + 1, min(len(tokens), start + _MAX_PATTERN) + 1)
               if tuple(tokens[start:end]) in _PATTERNS]
    if not matches:
        return tokens
    matches.sort(key=lambda m: (m[0] - m[1], m[0]))  # longest first, then leftmost
    seen: set[int] = set()
    chosen = {}
    for start, end in matches:
        if start not in seen and end - 1 not in seen:
            chosen[start] = end
        seen.update(range(start, end))
    out, i = [], 0
    while i < len(tokens):
        end = chosen.get(i)
        if end is None:
            out.append(tokens[i])
            i += 1
        else:
            out.extend(SPECIALS[_PATTERNS[tuple(tokens[i:end])]])
            i = end
    return out


def is_punct(token: str) -> bool:
    """spaCy's IS_PUNCT lexical attribute: every character is Unicode punctuation (P*)."""
    return all(unicodedata.category(c).startswith("P") for c in token)


class _Chunks(dict):
    """chunk -> tuple of word ids; a miss splits the chunk and interns its words."""

    def __init__(self, vocab: "Vocabulary"):
        super().__init__()
        self.vocab = vocab

    def __missing__(self, chunk: str) -> tuple[int, ...]:
        intern = self.vocab.intern
        if chunk.isalpha() and chunk not in SPECIALS:
            ids = (intern(chunk),)
        else:
            ids = tuple(map(intern, split_chunk(chunk)))  # chunks hold no whitespace, nor do tokens
        self[chunk] = ids
        return ids


class Vocabulary:
    """Interned words and their attributes, shared by every document of a process."""

    MAX_ENTRIES = 500_000  # chunks + words + sentence codes kept before the caches are cleared (~100 MB)

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.ids: dict[str, int] = {}
        self.words: list[str] = []
        self.chunks = _Chunks(self)
        self._new: list[tuple] = []  # (length, word-like, alpha) of words not yet in the arrays
        self.kinds: list[int] = []  # per word: 2 ends a sentence, 1 other punctuation, 0 other
        self.step_codes = _StepCodes(self)
        self._length = np.zeros(1024, dtype=np.int64)
        self._word_like = np.zeros(1024, dtype=bool)
        self._alpha = np.zeros(1024, dtype=bool)
        self.length = self._length[:0]
        self.word_like = self._word_like[:0]
        self.alpha = self._alpha[:0]

    def intern(self, word: str) -> int:
        i = self.ids.get(word)
        if i is None:
            i = self.ids[word] = len(self.words)
            self.words.append(word)
            if word.isalpha():
                self._new.append((len(word), True, True))
                self.kinds.append(0)
            else:
                self._new.append((len(word), not _PUNCTUATION.issuperset(word), any(map(str.isalpha, word))))
                self.kinds.append(0 if word.isalnum() else 2 if word in SENTENCE_PUNCT else 1 if is_punct(word) else 0)
        return i

    def word_ids(self, text: str) -> np.ndarray:
        """The ids of `text`'s words, in order: spaCy English tokens, whitespace tokens dropped."""
        if len(self.chunks) + len(self.words) + len(self.step_codes) > self.MAX_ENTRIES:
            self.reset()
        ids = np.fromiter(chain.from_iterable(map(self.chunks.__getitem__, text.split())), dtype=np.int64)
        if self._new:  # move the new words' attributes into the arrays, in one go
            n, old = len(self.words), len(self.words) - len(self._new)
            if n > len(self._length):
                size = max(n, 2 * len(self._length))
                self._length, self._word_like, self._alpha = (np.resize(a, size) for a in (self._length, self._word_like, self._alpha))
            lengths, word_like, alpha = zip(*self._new)
            self._length[old:n], self._word_like[old:n], self._alpha[old:n] = lengths, word_like, alpha
            self._new.clear()
            self.length, self.word_like, self.alpha = self._length[:n], self._word_like[:n], self._alpha[:n]
        return ids

    def words_of(self, text: str) -> list[str]:
        return [self.words[i] for i in self.word_ids(text)]

    def sentence_step(self, chunk: str) -> tuple:
        """How spaCy's Sentencizer state (seen a sentence end?) moves across this chunk's tokens:
        (new sentences, seen after) for seen=False, then for seen=True."""
        kinds = [self.kinds[i] for i in self.chunks[chunk]]
        return (*_walk(kinds, False), *_walk(kinds, True))

    def count_sentences(self, lines: list[str]) -> int:
        """Sentences spaCy's Sentencizer finds in each of `lines` (stripped, non-empty), summed.

        A line holds one sentence plus one per word that follows a sentence-ending mark. Each
        chunk is a function of the state "seen an end mark": chunks made only of other
        punctuation pass the state through; any other chunk sets it, whatever came before.
        So the state entering a chunk is the one left by the last chunk that sets it, which
        numpy finds for all lines at once (lines are joined with a chunk that resets it)."""
        total, plain = 0, []
        for line in lines:
            if _ODD_SPACE.search(line) or _LINE_BREAK in line:
                total += count_sentences(line, self)
            elif _SENTENCE_END.search(line, 0, len(line) - 1) is None:
                total += 1  # no end mark before the last character: one sentence
            else:
                plain.append(line)
        if not plain:
            return total
        chunks = f" {_LINE_BREAK} ".join(plain).split()
        steps = np.fromiter(map(self.step_codes.__getitem__, chunks), dtype=np.int64, count=len(chunks))
        sets = (steps & 1) == 0
        positions = np.arange(len(steps))
        last_setter = np.maximum.accumulate(np.where(sets, positions, -1))
        before = np.concatenate(([-1], last_setter[:-1]))
        seen = np.where(before >= 0, (steps[np.maximum(before, 0)] >> 1) & 1, 0).astype(bool)
        new = np.where(seen, steps >> 18, (steps >> 2) & 0xFFFF)
        return total + len(plain) + int(new.sum())


class _StepCodes(dict):
    """chunk -> Vocabulary.sentence_step packed in an int: bit 0 passes the state through, bit 1
    the state after (when set), bits 2-17 new sentences from seen=False, bits 18+ from seen=True."""

    def __init__(self, vocab: Vocabulary):
        super().__init__()
        self.vocab = vocab
        self[_LINE_BREAK] = 0  # sets "not seen", no new sentence

    def __missing__(self, chunk: str) -> int:
        if chunk.isalnum() or (chunk[:-1].isalnum() and chunk[-1] in ",;:"):
            code = self[chunk] = 1 << 18  # a word (and a comma): ends a sentence seen before it
            return code
        new0, out0, new1, out1 = self.vocab.sentence_step(chunk)
        passes = (out0, out1) == (False, True)
        code = self[chunk] = passes | (out1 << 1) | (min(new0, 0xFFFF) << 2) | (new1 << 18)
        return code


def _walk(kinds: list[int], seen: bool) -> tuple[int, bool]:
    new = 0
    for kind in kinds:
        if kind == 2:
            seen = True
        elif kind == 0 and seen:
            new += 1
            seen = False
    return new, seen


_WS_TOKEN = re.compile(r"\s+")
_SENTENCE_END = re.compile("[" + re.escape("".join(sorted(SENTENCE_PUNCT))) + "]")
_ODD_SPACE = re.compile(r"[^\S ]| {2}")  # whitespace that spaCy makes a token of its own


def count_sentences(line: str, vocab: "Vocabulary") -> int:
    """Sentences spaCy's Sentencizer finds in `line` (a stripped, non-empty line): one, plus one
    per word that follows a sentence-ending mark. Whitespace other than a single space is a
    token of its own in spaCy and can start a sentence too."""
    count, seen = 1, False
    pos = 0
    for m in _WS_TOKEN.finditer(line):
        new0, out0, new1, out1 = vocab.sentence_step(line[pos : m.start()])
        count, seen = (count + new1, out1) if seen else (count + new0, out0)
        if m.group() != " " and seen:  # a whitespace token: not punctuation
            count, seen = count + 1, False
        pos = m.end()
    new0, out0, new1, out1 = vocab.sentence_step(line[pos:])
    return count + (new1 if seen else new0)


VOCAB = Vocabulary()
