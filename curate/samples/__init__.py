"""Data the project creates and ships itself (see make_sample.py)."""

from pathlib import Path

SAMPLE_WARC = str(Path(__file__).with_name("sample.warc.gz"))
# the demo quality model, trained on project-written text only (see make_quality_model.py)
QUALITY_MODEL = str(Path(__file__).with_name("quality_model.bin"))
