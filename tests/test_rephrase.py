"""The Rephrase block against a real HTTP server that injects faults (tests/rephrase_fault_server.py):
retries, flagged answers, the cache, chunking, ordering, stats, the documents form, and the pieces
(chunking, checks, backoff, config) on their own. The real llama.cpp server: test_rephrase_llama.py."""

from __future__ import annotations

import random

import pytest
from datatrove.data import Document

from curate.errors import CurateError
from curate.rephrase import LLMConfig, Rephrase, RephraseError, RephraseStats
from curate.rephrase.cache import AnswerCache
from curate.rephrase.checks import classify, echo_score
from curate.rephrase.chunking import estimate_tokens, join_chunks, split_document
from curate.rephrase.client import parse_retry_after, retry_delay
from curate.rephrase.prompts import STYLES, render
from rephrase_fault_server import FaultServer, reverse_words

pytestmark = pytest.mark.timeout(60)


def config(server: FaultServer, **kw) -> LLMConfig:
    # a generous timeout: only the injected slow answers (slow_s) may run past it, even on a loaded machine
    base = dict(max_retries=3, backoff_base=0.01, backoff_max=0.05, request_timeout=5.0, concurrency=4)
    return LLMConfig(server.base_url, server.model, **{**base, **kw})


def docs(texts: list[str]) -> list[Document]:
    return [Document(text=t, id=f"d{i}", metadata={"url": f"http://example.com/{i}"}) for i, t in enumerate(texts)]


def run(block: Rephrase, texts: list[str]) -> list[Document]:
    return list(block.run(docs(texts)))


def sentences(n: int, tag: str = "") -> str:
    return " ".join(f"The {tag}river number {i} flows past a town called Place{i} in the valley." for i in range(n))


@pytest.fixture
def server():
    with FaultServer(slow_s=6.0) as s:
        yield s


def test_transient_faults_are_retried_and_counted(server, tmp_path):
    texts = ["[[429x2]] " + sentences(1, "a"), "[[429rax1]] " + sentences(1, "b"), "[[500x1]] " + sentences(1, "c"),
             "[[503x2]] " + sentences(1, "d"), "[[slowx1]] " + sentences(1, "e"), "[[malformedx1]] " + sentences(1, "f"),
             sentences(2, "g")]
    llm = config(server, price_prompt_per_m=2.0, price_completion_per_m=10.0, request_timeout=1.5)
    block = Rephrase(llm, cache_dir=str(tmp_path / "cache"), stats_dir=str(tmp_path / "stats"))
    out = run(block, texts)
    assert [d.metadata["rephrase_status"] for d in out] == ["ok"] * 7
    assert [d.metadata["rephrased_text"] for d in out] == [reverse_words(t) for t in texts]
    # every attempt reached the server: 7 answers + 2 + 1 + 1 + 2 + 1 (timed out) + 1 (malformed)
    assert server.requests == 15
    stats = RephraseStats.load_folder(str(tmp_path / "stats"))
    c = stats.counts
    assert c["requests"] == 15 and c["retries"] == 8
    assert {k: v for k, v in c.items() if k.startswith("errors.")} == {
        "errors.rate_limit": 3, "errors.server_error": 3, "errors.timeout": 1, "errors.malformed": 1}
    assert not any(k.startswith("failed.") for k in c)
    template = STYLES["wikipedia"]
    prompt_tokens = sum(len(render(template, t).split()) for t in texts)
    completion_tokens = sum(len(t.split()) for t in texts)
    assert (c["prompt_tokens"], c["completion_tokens"]) == (prompt_tokens, completion_tokens)
    summary = stats.summary(llm.price_prompt_per_m, llm.price_completion_per_m)
    assert summary["cost_usd"] == pytest.approx(prompt_tokens * 2e-6 + completion_tokens * 10e-6)
    assert summary["statuses"] == {"ok": 7} and summary["latency_s"]["p50"] > 0
    assert summary["completion_tokens_per_s"] > 0
    # Retry-After: 1 was honoured (instead of the 10-50 ms backoff)
    first, second = server.times[texts[1]]
    assert second - first >= 0.9


def test_flagged_answers_keep_their_status(server):
    texts = ["[[echo]] " + sentences(2), "[[refuse]] " + sentences(2), "[[empty]] " + sentences(2),
             "[[length]] " + sentences(2), "", "   ", sentences(2)]
    out = run(Rephrase(config(server)), texts)
    statuses = [d.metadata["rephrase_status"] for d in out]
    assert statuses == ["echo", "refusal", "empty", "truncated", "skipped", "skipped", "ok"]
    assert out[0].metadata["rephrased_text"] == texts[0]  # kept for inspection, but flagged
    assert out[4].metadata["rephrased_text"] is None
    assert all(d.text == t for d, t in zip(out, texts))  # the original text is untouched
    assert server.requests == 5


def test_exhausted_retries_flag_the_document(server, tmp_path):
    texts = [sentences(1, "a"), "[[always500]] " + sentences(1), sentences(1, "b")]
    block = Rephrase(config(server, max_retries=2), on_failure="flag", stats_dir=str(tmp_path))
    out = run(block, texts)
    assert [d.metadata["rephrase_status"] for d in out] == ["ok", "failed:server_error", "ok"]
    assert out[1].metadata["rephrased_text"] is None
    assert server.seen[texts[1]] == 3  # the first attempt and 2 retries
    c = RephraseStats.load_folder(str(tmp_path)).counts
    assert c["failed.server_error"] == 1 and c["errors.server_error"] == 3 and c["status.failed:server_error"] == 1


def test_exhausted_retries_abort_the_task(server, tmp_path):
    texts = [sentences(1, "a"), "[[always500]] " + sentences(1)] + [sentences(1, f"x{i}") for i in range(30)]
    # a backoff long enough that d0 (answered at once) is surely through before the task gives up
    block = Rephrase(config(server, max_retries=1, concurrency=2, backoff_base=0.6, backoff_max=0.6),
                     cache_dir=str(tmp_path))
    got = []
    with pytest.raises(RephraseError, match="server_error") as error:
        for doc in block.run(docs(texts)):
            got.append(doc.id)
    assert isinstance(error.value, CurateError)
    assert got == ["d0"]  # documents before the failure came out; none after it
    assert server.seen[texts[1]] == 2


def test_configuration_errors_abort_even_when_flagging(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with FaultServer(api_key="sk-right") as s:
        with pytest.raises(RephraseError, match="auth"):
            run(Rephrase(config(s), on_failure="flag"), [sentences(1)])
        with pytest.raises(CurateError, match="refused the API key"):
            Rephrase(config(s)).preflight()


def test_cache_makes_the_second_run_free(server, tmp_path):
    texts = [sentences(1, f"t{i}") for i in range(12)] + [sentences(40, "long")]
    llm = config(server, max_tokens=64, context_tokens=400)
    first = run(Rephrase(llm, cache_dir=str(tmp_path)), texts)
    sent = server.requests
    assert sent > len(texts)  # the long document took several requests
    second = run(Rephrase(llm, cache_dir=str(tmp_path)), texts)
    assert server.requests == sent  # nothing sent the second time
    assert [d.metadata["rephrased_text"] for d in second] == [d.metadata["rephrased_text"] for d in first]
    assert all(d.metadata["rephrase_cached"] == d.metadata["rephrase_chunks"] > 0 for d in second)
    assert all(d.metadata["rephrase_cached"] == 0 for d in first)
    assert len(AnswerCache(str(tmp_path))) == sent
    # another style, model or sampling setting is another key
    run(Rephrase(config(server, max_tokens=64, context_tokens=400), style="qa", cache_dir=str(tmp_path)), texts[:2])
    run(Rephrase(config(server, max_tokens=64, context_tokens=400, temperature=0.0), cache_dir=str(tmp_path)), texts[:2])
    assert server.requests == sent + 4


def test_long_document_is_chunked_and_rejoined_in_order(server):
    paragraphs = [sentences(3, f"p{i}") for i in range(6)]
    text = "\n\n".join(paragraphs)
    block = Rephrase(config(server, max_tokens=120, context_tokens=520))
    [doc] = run(block, [text])
    chunks = split_document(text, block.budget)
    assert len(chunks) >= 3 and doc.metadata["rephrase_chunks"] == len(chunks)
    assert server.requests == len(chunks)
    assert {c.text for c in chunks} == set(server.seen)  # one request per chunk, each chunk once
    assert doc.metadata["rephrased_text"] == join_chunks(chunks, [reverse_words(c.text) for c in chunks])
    # the answers come back in document order: paragraph p0's words come before p5's
    out = doc.metadata["rephrased_text"]
    assert out.index("p0river") < out.index("p1river") < out.index("p5river")
    assert out.count("\n\n") >= 1  # paragraph breaks survive the rejoin


def test_output_order_is_input_order_under_concurrency(server):
    # early documents answer slowly, later ones at once: completion order differs from input order
    texts = [("[[delay1.0]] " if i < 3 else "") + sentences(1, f"o{i}") for i in range(12)]
    out = run(Rephrase(config(server, concurrency=4)), texts)
    assert [d.id for d in out] == [f"d{i}" for i in range(12)]
    assert [d.metadata["rephrased_text"] for d in out] == [reverse_words(t) for t in texts]
    # the setup did what it meant to: later documents were answered before the first ones
    assert max(server.done_at[t] for t in texts[3:]) < min(server.done_at[t] for t in texts[:3])


def test_documents_form_links_rewrites_to_sources(server):
    texts = [sentences(1, "a"), "[[refuse]] " + sentences(1), sentences(1, "b")]
    block = Rephrase(config(server), output="documents", style="easy")
    out = run(block, texts)
    assert [(d.id, d.metadata["synthetic"], d.metadata["source_id"]) for d in out] == [
        ("d0", False, None), ("d0/rephrase/easy", True, "d0"), ("d1", False, None),
        ("d2", False, None), ("d2/rephrase/easy", True, "d2")]
    assert out[1].text == reverse_words(texts[0]) and out[1].metadata["url"] == "http://example.com/0"
    assert out[2].metadata["rephrase_status"] == "refusal"
    assert "rephrased_text" not in block.columns and {"synthetic", "source_id"} <= set(block.columns)


def test_custom_prompt_overrides_a_style(server):
    template = "Say it like a pirate.\n\nPassage:\n{text}"
    block = Rephrase(config(server), style="pirate", prompts={"pirate": template})
    [doc] = run(block, [sentences(1)])
    assert doc.metadata["rephrase_status"] == "ok" and doc.metadata["rephrase_style"] == "pirate"
    with pytest.raises(CurateError, match="unknown"):
        Rephrase(config(server), style="shouting")
    with pytest.raises(CurateError, match="exactly once"):
        Rephrase(config(server), prompts={"wikipedia": "no placeholder"})


# --- the pieces on their own ------------------------------------------------------------------

def test_split_document_keeps_everything_within_budget():
    rng = random.Random(3)
    words = ["alpha", "beta", "gamma.", "delta!", "x" * 200, "\n", "\n\n", "Zürich", "東京。"]
    for _ in range(50):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 400)))
        budget = rng.randint(8, 120)
        chunks = split_document(text, budget)
        assert "".join(c.separator + c.text for c in chunks) == text  # nothing lost, order kept
        assert all(estimate_tokens(c.text.rstrip()) <= budget and c.text.strip() for c in chunks)


def test_split_prefers_paragraph_boundaries():
    paragraphs = [sentences(2, f"q{i}") for i in range(4)]
    chunks = split_document("\n\n".join(paragraphs), estimate_tokens(paragraphs[0]) + 2)
    assert [c.text for c in chunks] == paragraphs
    assert [c.separator for c in chunks] == ["", "\n\n", "\n\n", "\n\n"]


def test_checks():
    source = sentences(3)
    prompt = render(STYLES["wikipedia"], source)
    assert classify(source, "stop", source, prompt) == "echo"
    assert classify(prompt, "stop", source, prompt) == "echo"  # instructions and document repeated
    assert classify(reverse_words(source), "stop", source, prompt) == "ok"
    assert classify("  \n", "stop", source, prompt) == "empty"
    assert classify("Some text", "length", source, prompt) == "truncated"
    assert classify("I cannot rewrite this passage.", "stop", source, prompt) == "refusal"
    assert classify("As an AI, I won't.", "stop", source, prompt) == "refusal"
    # a source that opens with an apology is rewritten, not refused
    sorry = "I'm sorry for the delay in shipping your order, we had a storm."
    assert classify("I'm sorry that your order shipped late because of a storm.", "stop", sorry) == "ok"
    assert echo_score("", source) == 0.0


def test_retry_delay_backoff_jitter_and_retry_after():
    rng = random.Random(0)
    for retry in range(6):
        delay = retry_delay(retry, 1.0, 8.0, None, rng)
        full = min(8.0, 2 ** retry)
        assert full / 2 <= delay <= full
    assert retry_delay(0, 1.0, 8.0, 3.5, rng) == 3.5
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert parse_retry_after({}) is None


def test_config_from_params_and_env():
    env = {"CURATE_LLM_BASE_URL": "http://127.0.0.1:9/v1", "CURATE_LLM_MODEL": "m", "CURATE_LLM_CONCURRENCY": "8",
           "MY_KEY": "sk-very-secret"}
    llm = LLMConfig.from_params({"temperature": "0", "api_key_env": "MY_KEY", "style": "qa"}, env=env)
    assert (llm.base_url, llm.model, llm.concurrency, llm.temperature) == ("http://127.0.0.1:9/v1", "m", 8, 0.0)
    assert llm.api_key(env) == "sk-very-secret" and "sk-very-secret" not in repr(llm)
    assert llm.api_key({}) == "sk-no-key-required"
    with pytest.raises(CurateError, match="base_url.*model|CURATE_LLM_BASE_URL"):
        LLMConfig.from_params({}, env={})
    with pytest.raises(CurateError, match="concurrency"):
        LLMConfig.from_params({"concurrency": "many"}, env=env)
    with pytest.raises(CurateError, match="context_tokens"):
        LLMConfig.from_params({"context_tokens": "100", "max_tokens": "200"}, env=env)


def test_stats_merge_and_percentiles(tmp_path):
    a, b = RephraseStats(), RephraseStats()
    for i in range(1, 101):
        (a if i % 2 else b).request(i / 100, 10, 5, now=float(i))
    a.start(0.0)
    a.save(str(tmp_path), 0)
    b.save(str(tmp_path), 1)
    merged = RephraseStats.load_folder(str(tmp_path))
    s = merged.summary(1.0, None)
    assert (s["requests"], s["prompt_tokens"], s["completion_tokens"]) == (100, 1000, 500)
    assert s["latency_s"]["p50"] == pytest.approx(0.50, rel=0.05)
    assert s["latency_s"]["p99"] == pytest.approx(0.99, rel=0.05)
    assert s["wall_s"] == 100.0 and s["completion_tokens_per_s"] == 5.0
    assert s["cost_usd"] == pytest.approx(1000 / 1e6)


def _open_and_put(folder: str, barrier, number: int) -> None:
    from curate.rephrase.cache import Answer

    barrier.wait()  # every process opens the new file at the same moment
    cache = AnswerCache(folder)
    cache.put(f"key-{number}", Answer(f"answer {number}", "stop", 1, 2))
    cache.close()


def test_cache_opened_by_many_workers_at_once(tmp_path):
    # workers starting together race to switch a new SQLite file to WAL (without the retry, about
    # one pair in four failed here with "database is locked"); none may fail
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for attempt in range(40):
        folder = str(tmp_path / f"cache-{attempt}")
        barrier = context.Barrier(2)
        processes = [context.Process(target=_open_and_put, args=(folder, barrier, n)) for n in range(2)]
        for p in processes:
            p.start()
        for p in processes:
            p.join(60)
        assert [p.exitcode for p in processes] == [0, 0], f"attempt {attempt}"
        cache = AnswerCache(folder)
        assert len(cache) == 2 and cache.get("key-1").text == "answer 1"
        cache.close()
