"""fastText training in a fresh process.

fasttext-numpy2 0.10.4 (train_supervised) fails at random with "Encountered NaN" on the second
and later trainings in one process, even with one thread, a fixed seed and a low learning rate
(measured: the first training in a process always succeeded, later ones failed ~60% of the time
on the same file). Each training therefore runs in a new process, which imports nothing but
fastText, and is retried if it still diverges."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from curate.errors import CurateError

ATTEMPTS = 3


def _fit(train_file: str, out: str, params: dict) -> None:
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None
    fasttext.train_supervised(input=train_file, verbose=0, **params).save_model(out)


def fit(train_file: str, out: str, params: dict) -> int:
    """Train on `train_file` and save the model to `out`; returns the attempts it took."""
    context = multiprocessing.get_context("spawn")
    for attempt in range(1, ATTEMPTS + 1):
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            try:
                pool.submit(_fit, train_file, out, params).result()
                return attempt
            except RuntimeError as e:
                if "NaN" not in str(e):
                    raise
                error = e
    raise CurateError(f"fastText training diverged {ATTEMPTS} times ({error}): lower lr in the recipe")
