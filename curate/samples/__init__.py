"""Data the project creates and ships itself (see make_sample.py)."""

from pathlib import Path

SAMPLE_WARC = str(Path(__file__).with_name("sample.warc.gz"))
