"""curate's own extractor (curate/extract/blocks.py), piece by piece on small hand-made pages,
then on the extraction gold set with a floor on its F1 (a regression fails the suite)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from curate.extract import ExtractText, blocks_extract
from curate.extract.blocks import COMMENTS, CONSENT, MARKED, NOT_MARKED, Block, marks_of, segment, value_of

PARAGRAPHS = [
    "The river rose three metres overnight, and by morning the lower town was under water.",
    "Volunteers filled sandbags until dawn, while the fire brigade pumped out the school's basement.",
    "The mayor said the new flood wall had held where it was finished, and promised to complete it this year.",
    "Farmers upstream counted their losses: whole fields of young wheat lay flat under brown silt.",
]
ARTICLE = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)


def page(body: str, head: str = "<title>t</title>") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def lines(html: str) -> list[str]:
    return blocks_extract(html).split("\n")


def test_the_article_is_kept_and_navigation_and_footer_are_not():
    html = page('<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>'
                '<ul class="menu"><li><a href="/a">Politics</a></li><li><a href="/b">Business</a></li></ul>'
                f'<main><article><h1>Flood in the lower town</h1>{ARTICLE}</article></main>'
                '<footer><p>Copyright 2024 The Daily Example. All rights reserved. Contact us for reprints.</p></footer>')
    assert lines(html) == ["Flood in the lower town", *PARAGRAPHS]


def test_comment_sections_are_dropped_however_long():
    comments = "".join(f"<div class='comment'><p>Reader {i} wrote a long and thoughtful reply about floods, "
                       f"walls, sandbags and the mayor's promises, at considerable length.</p></div>"
                       for i in range(12))
    html = page(f"<div class='post'>{ARTICLE}</div><section id='comments'><h3>12 Comments</h3>{comments}</section>")
    assert lines(html) == PARAGRAPHS


def test_cookie_banners_share_widgets_and_related_links_are_dropped():
    banner = ("<div class='cookie-consent'><p>We use cookies to improve your experience on our website. By "
              "continuing to browse you agree to our use of cookies and similar technologies.</p></div>")
    share = "<div class='share-buttons'><p>Share this article with your friends and family today</p></div>"
    related = ("<ul>" + "".join(f"<li><a href='/s{i}'>Another story about the weather number {i}</a></li>"
                                for i in range(5)) + "</ul>")
    html = page(f"{banner}<article>{ARTICLE}{share}<h3>Related</h3>{related}</article>")
    assert lines(html) == [*PARAGRAPHS, "Related"]


def test_tables_lists_and_headings_inside_the_article_are_kept():
    table = "<table><tr><th>Gauge</th><th>Level</th></tr><tr><td>North bridge</td><td>4.2 m</td></tr></table>"
    items = "<ul><li>Sandbags are available at the town hall until Friday.</li><li>Boil tap water.</li></ul>"
    html = page(f"<article><h1>Flood</h1><h2>What happened</h2>{ARTICLE[:len(ARTICLE) // 2]}</p>"
                f"<h2>Readings</h2>{table}<h2>Advice</h2>{items}</article>")
    out = lines(html)
    for expected in ("Flood", "What happened", "Readings", "Gauge", "4.2 m", "North bridge", "Advice",
                     "Sandbags are available at the town hall until Friday.", "Boil tap water."):
        assert expected in out, expected


def test_code_blocks_keep_their_lines():
    code = "def rise(level):\n    if level > 4:\n        return 'flood'\n    return 'ok'"
    html = page(f"<article>{ARTICLE}<pre><code>{code}</code></pre></article>")
    assert "def rise(level):\nif level > 4:\nreturn 'flood'\nreturn 'ok'" in blocks_extract(html)


def test_non_latin_scripts():
    japanese = ["川の水位が一晩で三メートル上昇し、朝には下町が水没していた。住民は高台の学校に避難した。",
                "ボランティアは夜明けまで土のうを積み、消防隊は学校の地下室から水をくみ出した。"]
    arabic = ["ارتفع منسوب النهر ثلاثة أمتار خلال الليل، وغمرت المياه البلدة السفلى في الصباح.",
              "ملأ المتطوعون أكياس الرمل حتى الفجر، بينما ضخت فرق الإطفاء المياه من قبو المدرسة."]
    for paragraphs in (japanese, arabic):
        html = page("<nav><a href='/'>ホーム</a></nav><article>" + "".join(f"<p>{p}</p>" for p in paragraphs)
                    + "</article><footer>© 2024</footer>")
        assert lines(html) == paragraphs


def test_malformed_html_still_gives_the_text():
    html = ("<html><body><div class=content><p>" + PARAGRAPHS[0] + "<p>" + PARAGRAPHS[1] + "</div></div></span>"
            "<p>" + PARAGRAPHS[2] + "<b><i>" + PARAGRAPHS[3] + "</b></i>")  # unclosed, misnested, no </html>
    out = blocks_extract(html)
    assert all(p in out for p in PARAGRAPHS)


def test_deep_nesting_and_a_huge_page_do_not_break_it():
    deep = page("<div>" * 5000 + ARTICLE + "</div>" * 5000)
    assert all(p in blocks_extract(deep) for p in PARAGRAPHS)
    # 50 MB: the article, then link-list boilerplate; run in a fresh process to read its peak memory
    code = ("import sys; from curate.extract import blocks_extract; from curate.progress import peak_rss_mb\n"
            f"article = {ARTICLE!r}\n"
            "junk = '<ul>' + '<li><a href=/x>more news here</a></li>' * 1_400_000 + '</ul>'\n"
            "html = '<html><body><article>' + article + '</article><aside>' + junk + '</aside></body></html>'\n"
            "assert len(html) > 50_000_000\n"
            "out = blocks_extract(html)\n"
            "print(out.count('\\n') + 1, peak_rss_mb())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    kept, peak_mb = map(int, done.stdout.split())
    assert kept == len(PARAGRAPHS)
    assert peak_mb < 4000  # bounded: a few times the page, not per-node Python objects for a million nodes


def test_a_page_that_is_all_boilerplate_gives_no_text():
    html = page('<nav><a href="/">Home</a><a href="/b">Blog</a></nav>'
                '<div class="cookie-banner"><p>We use cookies. Accept all cookies to continue browsing.</p></div>'
                '<ul class="menu"><li><a href="/1">One</a></li><li><a href="/2">Two</a></li></ul>'
                '<footer><p>© 2024 Example Corp, all rights reserved, every one of them.</p></footer>')
    assert blocks_extract(html) == ""
    assert ExtractText().process(_doc(html)) == "no_text"


def test_an_article_cut_into_chunks_by_inserts_is_whole():
    chunk = "<div class='body-chunk'>{}</div>"
    insert = ("<div class='popular'><h4>Most popular</h4>" + "".join(
        f"<p><a href='/p{i}'>Popular story {i} that everyone reads</a></p>" for i in range(4)) + "</div>")
    html = page("<article><h1>Flood</h1>" + chunk.format("".join(f"<p>{p}</p>" for p in PARAGRAPHS[:2])) + insert
                + chunk.format("".join(f"<p>{p}</p>" for p in PARAGRAPHS[2:])) + "</article>")
    assert lines(html) == ["Flood", *PARAGRAPHS]


def test_a_page_wide_form_is_a_wrapper_not_boilerplate():
    html = page(f"<form action='/page.aspx' method='post'><div><h1>Flood</h1>{ARTICLE}</div></form>")
    assert lines(html) == ["Flood", *PARAGRAPHS]


def test_marks_and_values():
    assert marks_of("entry-content post") == NOT_MARKED
    assert marks_of("sidebar-widget ") == MARKED and marks_of(" share_buttons") == MARKED
    assert marks_of("comment-list ") == COMMENTS and marks_of(" disqus_thread") == COMMENTS
    assert marks_of("cookie-notice ") == CONSENT and marks_of(" gdpr-banner") == CONSENT
    assert marks_of("commentary-piece ") == NOT_MARKED  # whole words only
    short, links, good = Block("p"), Block("p"), Block("p")
    short.text = "Too short."
    links.text, links.link = "A sentence that is mostly one long link to elsewhere.", 45
    good.text, good.link = PARAGRAPHS[0], 10
    assert value_of(short) == 0 and value_of(links) == 0 and value_of(good) == len(PARAGRAPHS[0]) - 10


def test_segment_records_link_text_and_containers():
    seg = segment(page("<div id='a'><p>Some <a href='/x'>linked words</a> here.</p></div>"))
    [block] = seg.blocks
    assert block.text == "Some linked words here." and block.link == len("linked words") and block.tag == "p"
    assert len(block.path) == 3  # body, the div, the p


def test_the_block_counts_slow_huge_and_failing_pages(monkeypatch):
    """ExtractText's accounting is the same for every extractor: a page past the CPU limit is
    `timeout`, a page over max_html_chars `too_large`, an extractor exception `extractor_error`."""
    import curate.extract.blocks

    slow = page("".join(f"<div><p>{PARAGRAPHS[i % 4]} ({i})</p></div>" for i in range(50_000)))  # 5 MB
    assert ExtractText(timeout=0.05).process(_doc(slow)) == "timeout"
    assert ExtractText(max_html_chars=1000).process(_doc(page(ARTICLE * 10))) == "too_large"

    def broken(page):
        raise RecursionError("a parser bug")

    monkeypatch.setattr(curate.extract.blocks, "select", broken)
    assert ExtractText().process(_doc(page(ARTICLE))) == "extractor_error"


def _doc(html: str):
    from datatrove.data import Document

    return Document(text=html, id="x", metadata={"content_kind": "html"})


@pytest.fixture(scope="module")
def gold(shared_data):
    from tools.extraction_gold import load_pages

    return load_pages(shared_data, "all")


def test_the_gold_set_f1_does_not_regress(gold, shared_data):
    """Measured 2026-12-06: F1 0.936 over all 788 pages (0.937 on the development four fifths, 0.928
    on the held-out fifth), trafilatura 0.921 (docs/extract.md). The floor leaves a small margin."""
    from tools.extraction_gold import score

    result = score(gold, [blocks_extract(p.html) for p in gold], shared_data)
    assert result["overall"]["pages"] == 788
    assert result["overall"]["f1"] >= 0.925, result["overall"]
    assert result["overall"]["precision"] >= 0.915 and result["overall"]["recall"] >= 0.945, result["overall"]
    assert all(source["f1"] >= 0.6 for source in result["by_source"].values()), result["by_source"]


def test_the_time_limit_holds_when_its_exception_is_swallowed():
    """The limit's exception can land where Python ignores exceptions (a finalizer the garbage
    collector runs at that moment; it happened in CI) or in code that catches everything: the
    call still ends as over the limit."""
    from curate.extract.timelimit import TimeLimitExceeded, time_limit

    with pytest.raises(TimeLimitExceeded):
        with time_limit(0.02):
            try:
                while True:
                    sum(range(1000))  # CPU until the limit's signal arrives
            except TimeLimitExceeded:
                pass  # swallowed, as by a finalizer
