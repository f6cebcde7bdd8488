"""Data the project creates and ships itself (tools/make_sample.py makes sample.warc.gz)."""

from pathlib import Path

SAMPLE_WARC = str(Path(__file__).with_name("sample.warc.gz"))
# the demo quality model, trained on project-written text only (tools/make_quality_model.py)
QUALITY_MODEL = str(Path(__file__).with_name("quality_model.bin"))
