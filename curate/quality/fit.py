"""fastText training in a child process with zero-filled allocations.

fasttext-numpy2 0.10.4's train_supervised reads memory it never initialised: on this machine it
failed at random with "Encountered NaN" (even at lr 0.05, one thread, a fixed seed: ~60% of
trainings after the first in a process, and small models in fresh processes too), and two
trainings with the same seed gave different models. With glibc's MALLOC_PERTURB_=255 every
allocation starts zeroed (255 ^ 0xff): no NaN in repeated trainings and the same model bytes each
time. So each training runs this file as a script in a child process with that setting
(nothing but fastText imported), and is retried if it still fails with NaN."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ATTEMPTS = 3


def fit(train_file: str, out: str, params: dict) -> int:
    """Train on `train_file` and save the model to `out`; returns the attempts it took."""
    from curate.errors import CurateError

    error = ""
    for attempt in range(1, ATTEMPTS + 1):
        done = subprocess.run([sys.executable, __file__, train_file, out, json.dumps(params)],
                              capture_output=True, text=True, env={**os.environ, "MALLOC_PERTURB_": "255"})
        if done.returncode == 0:
            return attempt
        error = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if "NaN" not in error:
            break
    raise CurateError(f"fastText training failed ({error})")


if __name__ == "__main__":
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None
    fasttext.train_supervised(input=sys.argv[1], verbose=0, **json.loads(sys.argv[3])).save_model(sys.argv[2])
