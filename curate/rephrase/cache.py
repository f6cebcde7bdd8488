"""A persistent cache of answers: SQLite on disk, one row per (model, style, prompt, chunk,
sampling settings). Several worker processes may share one file (WAL journal, busy timeout);
every answer is committed as soon as it arrives, so a run killed mid-way keeps what it paid for."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import time
from dataclasses import dataclass

SCHEMA = """CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER
)"""


@dataclass
class Answer:
    text: str
    finish_reason: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0


def cache_key(model: str, style: str, prompt_id: str, chunk: str, sampling: dict) -> str:
    chunk_hash = hashlib.sha256(chunk.encode("utf-8", "surrogatepass")).hexdigest()
    parts = json.dumps([model, style, prompt_id, chunk_hash, sorted(sampling.items())], sort_keys=True)
    return hashlib.sha256(parts.encode("utf-8")).hexdigest()


class AnswerCache:
    FILENAME = "cache.sqlite"

    def __init__(self, folder: str):
        os.makedirs(folder, exist_ok=True)
        self.path = os.path.join(folder, self.FILENAME)
        # used from the block's event-loop thread only; check_same_thread off so it can be closed elsewhere
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._setup()

    def _setup(self) -> None:
        # workers that start together race to switch a new file to WAL, and SQLite answers that
        # race with "database is locked" at once, without waiting out the busy timeout: retry
        deadline = time.monotonic() + 60
        while True:
            try:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(SCHEMA)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02 + random.random() * 0.08)

    def get(self, key: str) -> Answer | None:
        row = self._db.execute("SELECT text, finish_reason, prompt_tokens, completion_tokens FROM answers "
                               "WHERE key = ?", (key,)).fetchone()
        return Answer(*row) if row else None

    def put(self, key: str, answer: Answer) -> None:
        self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                         (key, answer.text, answer.finish_reason, answer.prompt_tokens, answer.completion_tokens))

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        self._db.close()
