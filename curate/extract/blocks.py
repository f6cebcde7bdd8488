"""Main text by blocks: curate's own extractor, at parser speed (ExtractText's default).

In four steps, over lexbor's HTML5 DOM (selectolax; the fastest parser measured for a Python walk,
docs/extract.md):

1. Segment. One walk cuts the body into blocks: the text between block-level tags, with its tag,
   the chain of containers it sits in (`path`) and how many of its characters are link text.
   Scripts, styles, form controls, <nav>, cookie-consent banners and the like are skipped. Containers are marked as
   boilerplate by their tag (footer, aside, form) or by words in their class or id (comments,
   share, related, sidebar, cookie, ...; `marks_of`).
2. Value. A block is good text when it is at least GOOD_CHARS long and under GOOD_LINKS link
   text; its value is its characters that are not link text.
3. Main content. The container whose own children hold the most good text (a block counts in
   full for its parent, half for its grandparent, a third per level above: readability's idea),
   widened to its ancestors while what each adds is mostly good text (the headline and lead beside
   the body, not the sidebar); an article body cut into chunks by inserts brings its other chunks
   (containers of the same tag and class). Footers, asides, comment sections and
   boilerplate-marked containers that do not wrap most of the page's good text, are never it.
4. Keep. The blocks of the main content, less the boilerplate-marked containers inside it,
   link lists and captions; plus the headline (an <h1> outside it). Blocks are joined by newlines;
   <pre> keeps its lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser

# tags whose content is never text (or whose text is never main text)
SKIPPED = frozenset(["script", "style", "noscript", "svg", "iframe", "template", "nav", "button", "select",
                     "textarea", "input", "object", "embed", "canvas", "video", "audio", "map", "dialog", "menu",
                     "head", "title", "math"])
# tags that start a new block (everything else is inline: its text joins the current block)
BLOCK_TAGS = frozenset("p div section article main header footer aside ul ol li dl dt dd table thead tbody tfoot "
                       "tr td th h1 h2 h3 h4 h5 h6 pre blockquote figure figcaption fieldset address details "
                       "summary hr br center caption legend body form".split())
BOILERPLATE_TAGS = frozenset(["footer", "aside", "form"])
# containers whose class or id is worth reading (the walk skips the attributes of the others)
MARKABLE = frozenset(["div", "section", "ul", "ol", "header", "table", "li", "p", "article", "dl", "td"])
BOILERPLATE_WORDS = re.compile(
    r"(?:^|[\s_-])(?:comments?|commentlist|disqus|share|sharing|related|recommend\w*|promo|sidebar|widget|ads|"
    r"banner|cookies?|consent|gdpr|newsletter|subscribe|breadcrumbs?|pagination|pager|menu|navbar|nav|footer|"
    r"popup|modal|outbrain|taboola|sponsor\w*|tagcloud|byline|author-bio|skip|rating|login|signup|toolbar)"
    r"(?:$|[\s_-])", re.I)
# comment sections are never the main content, however much text they hold
COMMENT_WORDS = re.compile(r"(?:^|[\s_-])(?:comments?|commentlist|disqus)(?:$|[\s_-])", re.I)
# a consent banner's text is never text of the page: skipped like a <nav>, even on a page with nothing else
CONSENT_WORDS = re.compile(r"(?:^|[\s_-])(?:cookies?|consent|gdpr)(?:$|[\s_-])", re.I)
CAPTIONS = frozenset(["figcaption"])
MAX_DEPTH = 400  # deeper markup (generated or hostile) is read as plain text of the element at this depth

GOOD_CHARS = 30  # a good block has at least this many characters
GOOD_LINKS = 0.5  # and less than this share of link text
NEUTRAL_CHARS = 40  # a shorter block without links (a heading, a date) is neither good nor bad text
DENSE = 0.8  # widen the main container while what an ancestor adds is at least this share good text
WRAPPER = 0.5  # a boilerplate-marked container holding this share of all good text is a page wrapper
MARKED_WEIGHT = 0.25  # good text under a class-marked container counts this much when choosing
LINK_LIST = 0.5  # blocks of the main content with more link text than this are dropped

NOT_MARKED, MARKED, COMMENTS, CONSENT = 0, 1, 2, 3
_marks_cache: dict[str, int] = {}


def marks_of(classes_and_id: str) -> int:
    """NOT_MARKED, MARKED (boilerplate words), COMMENTS or CONSENT, for a container's class and id; cached,
    as a page and a site repeat their markup."""
    kind = _marks_cache.get(classes_and_id)
    if kind is None:
        kind = CONSENT if CONSENT_WORDS.search(classes_and_id) else \
            COMMENTS if COMMENT_WORDS.search(classes_and_id) else \
            MARKED if BOILERPLATE_WORDS.search(classes_and_id) else NOT_MARKED
        if len(_marks_cache) < 100_000:
            _marks_cache[classes_and_id] = kind
    return kind


class Block:
    __slots__ = ("parts", "link", "tag", "path", "text")

    def __init__(self, tag: str):
        self.parts: list[str] = []
        self.link = 0  # characters of link text
        self.tag = tag
        self.path: tuple[int, ...] | None = None  # containers from the body down to this block's own
        self.text = ""


@dataclass
class Page:
    blocks: list[Block] = field(default_factory=list)
    marked: set[int] = field(default_factory=set)  # boilerplate by class or id
    strong: set[int] = field(default_factory=set)  # footer, aside, form, comments
    # never the main content, however large: footers and asides, and comment sections (unless the
    # page has no other good text: a page-wide id such as "comments-enabled" is a setting, not comments)
    never: set[int] = field(default_factory=set)
    comments: set[int] = field(default_factory=set)
    kinds: dict[int, tuple[str, str]] = field(default_factory=dict)  # container -> (tag, class)


def segment(html: str) -> Page:
    """The body's blocks and its containers' marks (step 1)."""
    page = Page()
    tree = LexborHTMLParser(html.encode("utf-8", "replace"))
    body = tree.body
    if body is None:
        return page
    blocks, marked, strong, kinds = page.blocks, page.marked, page.strong, page.kinds
    path = [0]
    counter = [0]
    current = [Block("body")]

    def add_text(text: str, in_link: bool) -> None:
        block = current[0]
        if block.path is None:
            block.path = tuple(path)
            blocks.append(block)
        block.parts.append(text)
        if in_link:
            block.link += len(text)

    def start(tag: str) -> None:  # a new block begins (the current one, if empty, is reused)
        if current[0].path is None:
            current[0].tag = tag
        else:
            current[0] = Block(tag)

    def walk(node, in_link: bool, depth: int) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                text = child.text_content
                if text and not text.isspace():
                    add_text(text, in_link)
                elif text and current[0].path is not None:
                    current[0].parts.append(" ")  # the space between two links or two inline tags
                continue
            if tag is None or tag[0] == "-" or tag in SKIPPED:
                continue
            if depth >= MAX_DEPTH:
                text = child.text(deep=True)
                if text and not text.isspace():
                    add_text(text, in_link)
                continue
            if tag not in BLOCK_TAGS:
                walk(child, in_link or tag == "a", depth + 1)
                continue
            counter[0] += 1
            number = counter[0]
            if tag in BOILERPLATE_TAGS:
                strong.add(number)
                if tag != "form":
                    page.never.add(number)
            elif tag in MARKABLE:
                attributes = child.attributes
                classes = attributes.get("class") or ""
                if classes:
                    kinds[number] = (tag, classes)
                ident = attributes.get("id") or ""
                if classes or ident:
                    kind = marks_of(classes + " " + ident)
                    if kind == CONSENT:
                        continue
                    if kind == COMMENTS:
                        strong.add(number)
                        page.comments.add(number)
                    elif kind == MARKED:
                        marked.add(number)
            path.append(number)
            start(tag)
            walk(child, in_link, depth + 1)
            path.pop()
            start(node.tag if node.tag in BLOCK_TAGS else "div")

    walk(body, False, 0)
    for block in blocks:
        raw = "".join(block.parts)
        block.text = "\n".join(" ".join(line.split()) for line in raw.strip("\n").split("\n")) \
            if block.tag == "pre" else " ".join(raw.split())
    return page


def value_of(block: Block) -> float:
    """Characters of good text in a block (step 2): 0 for short or link-heavy blocks."""
    n = len(block.text)
    if n < GOOD_CHARS:
        return 0.0
    links = min(n, block.link)
    return n - links if links < GOOD_LINKS * n else 0.0


def sums(blocks: list[Block], values: list[float], excluded: set[int]) -> tuple[dict, dict]:
    """Per container: good text, and size (good and bad text; short text without links is neutral),
    leaving out blocks inside an excluded container."""
    good: dict[int, float] = {}
    sizes: dict[int, float] = {}
    for block, value in zip(blocks, values):
        if excluded and not excluded.isdisjoint(block.path):
            continue
        n = len(block.text)
        size = n if value or n >= NEUTRAL_CHARS or block.link > 0.3 * n else 0
        if not size:
            continue
        for node in block.path:
            sizes[node] = sizes.get(node, 0.0) + size
            if value:
                good[node] = good.get(node, 0.0) + value
    return good, sizes


def main_container(blocks: list[Block], values: list[float], excluded: set[int], good: dict, sizes: dict) -> int:
    """Step 3: the container whose children hold the most good text, widened while dense."""
    scores: dict[int, float] = {}
    parent: dict[int, int] = {}
    for block, value in zip(blocks, values):
        path = block.path
        for i in range(1, len(path)):
            parent[path[i]] = path[i - 1]
        if not value or (excluded and not excluded.isdisjoint(path)):
            continue
        for level, node in enumerate(reversed(path[:-1])):
            scores[node] = scores.get(node, 0.0) + value / (1.0 if level == 0 else 2.0 if level == 1 else level * 3.0)
    if not scores:
        return 0
    best = max(scores, key=scores.get)
    while best in parent:
        up = parent[best]
        added_good = good.get(up, 0.0) - good.get(best, 0.0)
        added = sizes.get(up, 0.0) - sizes.get(best, 0.0)
        if added > 0 and added_good < DENSE * added:
            break
        best = up
    return best


def select(page: Page) -> list[str]:
    """Steps 2 to 4: the main text's blocks, in document order."""
    blocks = page.blocks
    values = [value_of(block) for block in blocks]
    everywhere: dict[int, float] = {}
    for block, value in zip(blocks, values):
        if value:
            for node in block.path:
                everywhere[node] = everywhere.get(node, 0.0) + value
    total = everywhere.get(0, 0.0)
    if not total:  # no good block: the page's short texts, less its link lists
        return [block.text for block in blocks if block.text and block.link <= LINK_LIST * len(block.text)]
    # a marked container that holds most of the good text is the page's wrapper (an ASP.NET page is
    # one <form>; a theme names its wrapper "site-nav-wrap"), not boilerplate; a footer, an aside,
    # comments always are
    boilerplate = {node for node in page.strong | page.marked if everywhere.get(node, 0.0) < WRAPPER * total}
    boilerplate |= page.never | page.comments
    strong, weak = boilerplate & page.strong, boilerplate - page.strong
    weighted = [value * MARKED_WEIGHT if value and weak and not weak.isdisjoint(block.path) else value
                for block, value in zip(blocks, values)]
    good, sizes = sums(blocks, weighted, strong)
    if not good:  # all the good text is in marked containers: the marks were wrong
        strong, weighted = set(page.never), values
        good, sizes = sums(blocks, weighted, strong)
    best = main_container(blocks, weighted, strong, good, sizes)
    chosen = {best}
    kind = page.kinds.get(best)
    if kind is not None:
        chosen.update(node for node, other in page.kinds.items()
                      if other == kind and good.get(node, 0.0) >= DENSE * sizes.get(node, 1.0))
    kept = []
    for block in blocks:
        text, path = block.text, block.path
        if not text or (strong and not strong.isdisjoint(path)):
            continue
        n = len(text)
        inside = next((i for i, node in enumerate(path) if node in chosen), None)
        if inside is None:
            if block.tag == "h1" and block.link <= LINK_LIST * n:
                kept.append(text)  # the headline, outside the body's container
            continue
        if weak and not weak.isdisjoint(path[inside + 1:]):
            continue  # boilerplate marked inside the main content (marks around it do not count)
        if block.link > LINK_LIST * n or block.tag in CAPTIONS:
            continue
        kept.append(text)
    return kept


def blocks_extract(html: str) -> str:
    """The main text of an HTML page: its blocks joined by newlines ("" when there is none)."""
    return "\n".join(select(segment(html)))
