"""Remote inputs against real servers on 127.0.0.1: moto's S3-compatible server (s3://) and a
plain Python HTTP server (http://). Documents read remotely must equal the local read; a
small --limit must not fetch the whole object; bad URIs are one-line CLI errors."""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.cli import main
from curate.io.inputs import expand_inputs
from curate.io.reader import ReadDocuments

REPO = Path(__file__).resolve().parent.parent
PIPELINE = str(REPO / "pipelines" / "datacomp.py")
BUCKET = "curate-test"
WARC_KEY = "crawl/web/pages.warc.gz"
JSONL_KEY = "crawl/text/c4-ccnet-redpajama-samples.jsonl"

pytestmark = pytest.mark.slow  # every test here starts a server


def summary(docs) -> list[tuple]:
    """What must survive the trip: id, url, date and the text (hashed to keep diffs short)."""
    return [(d.id, d.metadata["url"], d.metadata["warc_date"], hashlib.sha1(d.text.encode("utf-8", "surrogatepass")).hexdigest())
            for d in docs]


def read(inputs, **kwargs) -> list:
    return list(ReadDocuments(inputs, **kwargs).run())


@pytest.fixture(scope="module")
def local_pages(shared_data):
    return summary(read([str(shared_data / "web" / "pages.warc.gz")]))


@pytest.fixture(scope="module")
def local_jsonl(shared_data):
    return summary(read([str(shared_data / "web-text" / "c4-ccnet-redpajama-samples.jsonl")]))


@pytest.fixture
def refused_port():
    """A port that refuses connections: bound, never listening, held for the test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


# -- a byte-counting TCP relay: what the client really fetched from the server --------------


class CountingProxy:
    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.bytes_down = 0  # server -> client
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.conns: list[socket.socket] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for src, dst, down in ((client, upstream, False), (upstream, client, True)):
                t = threading.Thread(target=self._pump, args=(src, dst, down), daemon=True)
                t.start()
                self.threads.append(t)

    def _pump(self, src, dst, down):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                if down:
                    with self.lock:
                        self.bytes_down += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()
        self._accept.join(5)
        for t in self.threads:
            t.join(5)


# -- S3: moto's server ----------------------------------------------------------------------


def _isolate_aws(mp: pytest.MonkeyPatch, tmp: Path) -> None:
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        mp.delenv(var, raising=False)
    mp.setenv("AWS_CONFIG_FILE", str(tmp / "no-aws-config"))
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-aws-credentials"))
    mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="module")
def s3(shared_data, tmp_path_factory):
    """moto's real S3 server (HTTP on 127.0.0.1, a free port) with one bucket:
    crawl/web/pages.warc.gz, crawl/text/<jsonl>, crawl/README.txt (not an input format)."""
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)  # no request log lines on stderr
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    url = "http://%s:%d" % server.get_host_and_port()
    try:
        with pytest.MonkeyPatch.context() as mp:
            _isolate_aws(mp, tmp_path_factory.mktemp("aws"))
            client = boto3.client("s3", endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="y")
            client.create_bucket(Bucket=BUCKET)
            client.upload_file(str(shared_data / "web" / "pages.warc.gz"), BUCKET, WARC_KEY)
            client.upload_file(str(shared_data / "web-text" / "c4-ccnet-redpajama-samples.jsonl"), BUCKET, JSONL_KEY)
            client.put_object(Bucket=BUCKET, Key="crawl/README.txt", Body=b"not a crawl file\n")
        yield url
    finally:
        server.stop()
        werkzeug_log.setLevel(level)


@pytest.fixture
def no_s3_cache():
    """s3fs caches filesystems by constructor arguments, not by environment: a test that moves
    the endpoint through AWS_ENDPOINT_URL must not get an earlier test's client."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    yield
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3_env(s3, monkeypatch, tmp_path, no_s3_cache):
    """The endpoint and credentials the way a user gives them to any AWS tool."""
    _isolate_aws(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    return s3


def test_s3_file_with_storage_options(s3, local_pages, monkeypatch, tmp_path, no_s3_cache):
    _isolate_aws(monkeypatch, tmp_path)  # nothing from the environment: storage_options only
    options = {"key": "x", "secret": "y", "client_kwargs": {"endpoint_url": s3}}
    uri = f"s3://{BUCKET}/{WARC_KEY}"
    docs = read([uri], storage_options=options)
    assert summary(docs) == local_pages
    assert len(docs) == 720
    assert {d.metadata["source_file"] for d in docs} == {uri}


def test_s3_prefix_and_glob_with_env_endpoint(s3_env, local_pages, local_jsonl):
    prefix = f"s3://{BUCKET}/crawl/"
    pages, jsonl = f"s3://{BUCKET}/{WARC_KEY}", f"s3://{BUCKET}/{JSONL_KEY}"
    # a prefix lists the crawl/text formats below it, recursively, sorted; README.txt is not one
    assert expand_inputs([prefix]) == [jsonl, pages]
    assert expand_inputs([f"s3://{BUCKET}/crawl"]) == [jsonl, pages]
    assert expand_inputs([f"s3://{BUCKET}/crawl/*/*.jsonl"]) == [jsonl]
    assert expand_inputs([f"s3://{BUCKET}/crawl/**/*.gz"]) == [pages]

    docs = read([prefix])
    assert summary(docs) == local_jsonl + local_pages
    assert [d.id for d in docs[:3]] == ["c4-0", "c4-1", "c4-2"]
    glob_docs = read([f"s3://{BUCKET}/crawl/*/*.jsonl"])
    assert summary(glob_docs) == local_jsonl
    assert len(glob_docs) == 80 and {d.metadata["source_file"] for d in glob_docs} == {jsonl}


def test_s3_limit_streams_instead_of_fetching_the_object(s3, shared_data, local_pages, monkeypatch, tmp_path,
                                                         no_s3_cache):
    size = (shared_data / "web" / "pages.warc.gz").stat().st_size
    proxy = CountingProxy(int(s3.rsplit(":", 1)[1]))
    try:
        _isolate_aws(monkeypatch, tmp_path)
        # s3fs reads ahead 50 MiB blocks by default, more than this whole 22 MB object;
        # a 1 MiB block shows what the reader itself pulls
        options = {"key": "x", "secret": "y", "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{proxy.port}"},
                   "default_block_size": 1 << 20}
        docs = read([f"s3://{BUCKET}/{WARC_KEY}"], limit=1, storage_options=options)
        assert summary(docs) == local_pages[:1]
        fetched_limited = proxy.bytes_down
        assert 0 < fetched_limited < size // 4, (fetched_limited, size)

        # control: with blocks larger than the object, the first read fetches all of it
        docs = read([f"s3://{BUCKET}/{WARC_KEY}"], limit=1, storage_options={**options, "default_block_size": 64 << 20})
        assert summary(docs) == local_pages[:1]
        assert proxy.bytes_down - fetched_limited >= size
    finally:
        proxy.close()


def parquet_rows(folder) -> list[dict]:
    files = sorted(glob.glob(os.path.join(str(folder), "*.parquet")))
    assert files, f"no Parquet in {folder}"
    table = pa.concat_tables([pq.read_table(f) for f in files])
    return sorted(table.to_pylist(), key=lambda r: r["id"])


def test_cli_run_reads_s3(s3_env, shared_data, lid_model, monkeypatch, tmp_path):
    monkeypatch.setenv("CURATE_LID_MODEL", lid_model)
    uri = f"s3://{BUCKET}/{WARC_KEY}"
    remote, local = tmp_path / "remote", tmp_path / "local"
    assert main(["run", PIPELINE, "--input", uri, "--output", str(remote), "--limit", "40"]) == 0
    assert main(["run", PIPELINE, "--input", str(shared_data / "web" / "pages.warc.gz"), "--output", str(local),
                 "--limit", "40"]) == 0
    got, want = parquet_rows(remote), parquet_rows(local)
    assert len(got) >= 1
    assert {r["language"] for r in got} == {"en"}
    assert {r["source_file"] for r in got} == {uri}
    for r in want:
        r["source_file"] = uri
    assert [json.dumps(r, sort_keys=True) for r in got] == [json.dumps(r, sort_keys=True) for r in want]  # NaN == NaN
    funnel = json.loads((Path(f"{remote}.curate") / "funnel.json").read_text())
    assert funnel["file_errors"] == [] and funnel["tasks_reported"] == 1
    read_stage = funnel["stages"][0]
    assert read_stage["stage"] == "read" and read_stage["docs_out"] == 40
    assert funnel["stages"][-1]["docs_out"] == len(got)
    local_funnel = json.loads((Path(f"{local}.curate") / "funnel.json").read_text())
    counts = ("stage", "docs_in", "docs_out", "bytes_out", "dropped", "skipped")
    assert [{k: s[k] for k in counts} for s in funnel["stages"]] == [{k: s[k] for k in counts} for s in local_funnel["stages"]]


def test_cli_limit_1_streams_from_s3(s3, shared_data, lid_model, tmp_path):
    """The CLI as a user runs it, with S3 settings from the environment (FSSPEC_S3 sets s3fs
    options; fsspec reads it at start-up, hence a fresh process)."""
    size = (shared_data / "web" / "pages.warc.gz").stat().st_size
    proxy = CountingProxy(int(s3.rsplit(":", 1)[1]))
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FSSPEC_"))}
    env.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{proxy.port}", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), FSSPEC_S3='{"default_block_size": 1048576}',
               CURATE_LID_MODEL=lid_model)
    try:
        proc = subprocess.run([sys.executable, "-m", "curate.cli", "run", PIPELINE, "--input",
                               f"s3://{BUCKET}/{WARC_KEY}", "--output", str(out), "--limit", "1",
                               "--tolerate-failures"],  # the one page read may be filtered out: exit 0 all the same
                              env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    finally:
        proxy.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    funnel = json.loads((Path(f"{out}.curate") / "funnel.json").read_text())
    assert funnel["stages"][0]["docs_out"] == 1 and funnel["file_errors"] == []
    assert 0 < proxy.bytes_down < size // 4, (proxy.bytes_down, size)


# -- HTTP: Python's own file server ---------------------------------------------------------


class QuietCountingHandler(SimpleHTTPRequestHandler):
    """python -m http.server's handler (no Range support), counting the body bytes it sent."""

    sent: dict  # path -> bytes, per server
    done: threading.Condition

    def log_message(self, format, *args):
        pass

    def setup(self):
        super().setup()
        # a small send buffer, so "sent" is close to what the client took (not the kernel's 4 MB)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 128 * 1024)

    def copyfile(self, source, outputfile):  # GET bodies only
        try:
            while chunk := source.read(64 * 1024):
                outputfile.write(chunk)
                with self.done:
                    self.sent[self.path] = self.sent.get(self.path, 0) + len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: that is the point of streaming
        finally:
            with self.done:
                self.sent["_gets_done"] = self.sent.get("_gets_done", 0) + 1
                self.done.notify_all()


@pytest.fixture(scope="module")
def http_server(shared_data):
    sent: dict = {}
    handler = type("Handler", (QuietCountingHandler,), {"sent": sent, "done": threading.Condition()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(shared_data)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_http_read_equals_local(http_server, local_pages):
    base, _ = http_server
    uri = f"{base}/web/pages.warc.gz"
    assert expand_inputs([uri]) == [uri]
    docs = read([uri])
    # the whole file: this server ignores Range headers, so block reads would stop after 5 MB
    assert summary(docs) == local_pages
    assert {d.metadata["source_file"] for d in docs} == {uri}


def test_http_limit_streams(http_server, shared_data, local_pages):
    base, handler = http_server
    size = (shared_data / "web" / "pages.warc.gz").stat().st_size
    with handler.done:
        handler.sent.clear()
    docs = read([f"{base}/web/pages.warc.gz"], limit=1)
    assert summary(docs) == local_pages[:1]
    with handler.done:  # wait until the server noticed the client hung up (no timing assumed)
        assert handler.done.wait_for(lambda: handler.sent.get("_gets_done", 0) >= 1, timeout=60)
        sent = handler.sent.get("/web/pages.warc.gz", 0)
    assert 0 < sent < size // 2, (sent, size)


# -- bad URIs: one line, exit code 2 --------------------------------------------------------


def _assert_one_line_error(capsys, rc, out_dir, *fragments):
    captured = capsys.readouterr()
    assert rc == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("curate: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert not glob.glob(os.path.join(str(out_dir), "*.parquet"))


@pytest.mark.parametrize("case", ["unknown_scheme", "http_refused", "http_404", "s3_missing_key",
                                  "s3_missing_bucket"])
def test_bad_uri_is_one_line_error(case, http_server, s3_env, refused_port, lid_model, monkeypatch, tmp_path,
                                   capsys):
    monkeypatch.setenv("CURATE_LID_MODEL", lid_model)
    base, _ = http_server
    uri, expect = {
        "unknown_scheme": ("foo://x", "cannot open this kind of URI"),
        "http_refused": (f"http://127.0.0.1:{refused_port}/pages.warc.gz", "cannot read"),
        "http_404": (f"{base}/web/missing.warc.gz", "404"),
        "s3_missing_key": (f"s3://{BUCKET}/crawl/missing.warc.gz", "no such file or directory"),
        "s3_missing_bucket": ("s3://no-such-bucket/crawl/x.warc.gz", "no such file or directory"),
    }[case]
    out = tmp_path / "out"
    capsys.readouterr()
    rc = main(["run", PIPELINE, "--input", uri, "--output", str(out)])
    _assert_one_line_error(capsys, rc, out, uri, expect)


def test_unreachable_s3_endpoint_is_one_line_error(s3_env, refused_port, lid_model, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CURATE_LID_MODEL", lid_model)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{refused_port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore's retries, not ours to wait through
    uri = f"s3://{BUCKET}/{WARC_KEY}"
    out = tmp_path / "out"
    capsys.readouterr()
    rc = main(["run", PIPELINE, "--input", uri, "--output", str(out)])
    _assert_one_line_error(capsys, rc, out, uri, "EndpointConnectionError", str(refused_port))
