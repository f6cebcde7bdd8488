"""Prototype: main text by blocks over selectolax's lexbor DOM."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

JUNK = ["script", "style", "noscript", "svg", "iframe", "template", "nav", "button", "select", "textarea",
        "input", "object", "embed", "canvas", "video", "audio", "map", "dialog", "menu"]
BLOCK = frozenset("p div section article main header footer aside ul ol li dl dt dd table thead tbody tfoot tr td "
                  "th h1 h2 h3 h4 h5 h6 pre blockquote figure figcaption fieldset address details summary hr br "
                  "center caption legend body form".split())
HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
BOILER_TAGS = frozenset(["footer", "aside", "form"])
BOILER = re.compile(r"(?:^|[\s_-])(?:comments?|commentlist|disqus|share|sharing|related|recommend\w*|promo|"
                    r"sidebar|widget|ads|banner|cookies?|consent|gdpr|newsletter|subscribe|breadcrumbs?|"
                    r"pagination|pager|menu|navbar|nav|footer|popup|modal|outbrain|taboola|sponsor\w*|"
                    r"tagcloud|byline|author-bio|skip|rating|login|signup|toolbar)(?:$|[\s_-])",
                    re.I)
COMMENTS = re.compile(r"(?:^|[\s_-])(?:comments?|commentlist|disqus)(?:$|[\s_-])", re.I)
SPACES = re.compile(r"\s+")
SKIP_BLOCKS = frozenset(["figcaption"])
LAMBDA = 0.5
DENSE = 0.8
WEAK = 0.25
NEUTRAL = 40
GOOD_CHARS = 30
GOOD_LINKS = 0.5
WRAPPER = 0.5


class Block:
    __slots__ = ("parts", "link", "tag", "path")

    def __init__(self, tag, path):
        self.parts, self.link, self.tag, self.path = [], 0, tag, path


JUNK_SET = frozenset(JUNK)
MARK_CACHE: dict[str, int] = {}  # class + id -> 0 plain, 1 boilerplate, 2 comments (pages share their markup)


CHECK_MARKS = frozenset(["div", "section", "ul", "ol", "aside", "header", "footer", "table", "li", "p", "span",
                         "article", "dl", "td"])


def extract(html: str) -> str:
    tree = LexborHTMLParser(html.encode("utf-8", "replace"))
    body = tree.body
    if body is None:
        return ""
    blocks: list[Block] = []
    marked: set[int] = set()  # boilerplate by class or id: pruned inside the main content
    strong: set[int] = set()  # footer, aside, form, comments: never the main content (unless they wrap it all)
    kinds: dict[int, tuple] = {}
    comments: set[int] = set()  # never the main content, however much text they hold
    path: list[int] = [0]
    counter = [0]
    current = [Block("body", None)]
    junk, block_tags, boiler_tags, check_marks = JUNK_SET, BLOCK, BOILER_TAGS, CHECK_MARKS
    mark_cache = MARK_CACHE

    def walk(node, in_link: bool):
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                text = child.text_content
                if text and not text.isspace():
                    block = current[0]
                    if block.path is None:
                        block.path = tuple(path)
                        blocks.append(block)
                    block.parts.append(text)
                    if in_link:
                        block.link += len(text)
                continue
            if tag is None or tag[0] == "-" or tag in junk:
                continue
            if tag in block_tags:
                counter[0] += 1
                number = counter[0]
                if tag in boiler_tags:
                    strong.add(number)
                elif tag in check_marks:
                    attributes = child.attributes
                    classes = attributes.get("class") or ""
                    if classes:
                        kinds[number] = (tag, classes)
                    marks = classes + " " + (attributes.get("id") or "")
                    if len(marks) > 1:
                        kind = mark_cache.get(marks)
                        if kind is None:
                            kind = 2 if COMMENTS.search(marks) else 1 if BOILER.search(marks) else 0
                            if len(mark_cache) < 100_000:
                                mark_cache[marks] = kind
                        if kind:
                            (strong if kind == 2 else marked).add(number)
                            if kind == 2:
                                comments.add(number)
                path.append(number)
                block = current[0]
                if block.path is None:
                    block.tag = tag
                else:
                    current[0] = Block(tag, None)
                walk(child, in_link)
                path.pop()
                block = current[0]
                outer = node.tag if node.tag in block_tags else "div"
                if block.path is None:
                    block.tag = outer
                else:
                    current[0] = Block(outer, None)
            else:
                walk(child, in_link or tag == "a")

    walk(body, False)
    return select(blocks, marked, strong, kinds, comments)


def container_sums(blocks, texts, values, boiler) -> tuple[dict, dict]:
    good: dict[int, float] = {}
    sizes: dict[int, float] = {}
    for b, text, value in zip(blocks, texts, values):
        if boiler and boiler.intersection(b.path):
            continue
        n = len(text)
        # short text without links (a heading, a date) is neutral: neither good nor bad
        size = n if value or n >= NEUTRAL or b.link > 0.3 * n else 0
        if not size:
            continue
        for node in b.path:
            sizes[node] = sizes.get(node, 0.0) + size
            if value:
                good[node] = good.get(node, 0.0) + value
    return good, sizes


def main_container(blocks, values, boiler, good, sizes) -> int:
    """The container whose children hold the most good text (a block's parent gets its value, the
    grandparent half, further ancestors a third per level), then widened to its ancestors while
    what they add is mostly good text (a headline and lead beside the body, not a sidebar)."""
    decayed: dict[int, float] = {}
    parent: dict[int, int] = {}
    for b, value in zip(blocks, values):
        path = b.path
        for i in range(1, len(path)):
            parent[path[i]] = path[i - 1]
        if not value or (boiler and boiler.intersection(path)):
            continue
        for level, node in enumerate(reversed(path[:-1])):
            decayed[node] = decayed.get(node, 0.0) + value / (1.0 if level == 0 else 2.0 if level == 1 else level * 3.0)
    if not decayed:
        return 0
    best = max(decayed, key=decayed.get)
    while best in parent:
        up = parent[best]
        added_good = good.get(up, 0.0) - good.get(best, 0.0)
        added = sizes.get(up, 0.0) - sizes.get(best, 0.0)
        if added > 0 and added_good < DENSE * added:
            break
        best = up
    return best


def select(blocks: list[Block], marked: set[int], strong: set[int], kinds: dict, comments: set[int]) -> str:
    texts = [SPACES.sub(" ", "".join(b.parts)).strip() for b in blocks]
    values = []
    scores: dict[int, float] = {}
    for b, text in zip(blocks, texts):
        n = len(text)
        density = min(1.0, b.link / n) if n else 1.0
        value = n * (1 - density) if n >= GOOD_CHARS and density < GOOD_LINKS else 0.0
        values.append(value)
        if value:
            for node in b.path:
                scores[node] = scores.get(node, 0.0) + value
    total = scores.get(0, 0.0)
    if not total:
        return "\n".join(t for t in texts if t)
    # a marked container (boilerplate by its tag, class or id) that wraps nearly all the good text
    # (a page-wide <form>, a wrapper named "page-nav-wrapper") is a wrapper, not boilerplate
    boiler = {node for node in strong | marked if scores.get(node, 0.0) < WRAPPER * total} | comments
    strong_boiler, weak_boiler = boiler & strong, boiler - strong
    # good text under a class-marked container counts for less when choosing the main content
    weighted = [v * WEAK if v and weak_boiler and weak_boiler.intersection(b.path) else v
                for b, v in zip(blocks, values)]
    good, sizes = container_sums(blocks, texts, weighted, strong_boiler)
    if not good:  # all the good text is in marked containers: the marks were wrong
        strong_boiler = set()
        good, sizes = container_sums(blocks, texts, values, strong_boiler)
        weighted = values
    best = main_container(blocks, weighted, strong_boiler, good, sizes)
    # an article body cut into chunks by inserts ("Most popular", ads): the chunks are containers
    # of the same tag and class as the main one; the dense ones are part of it
    chosen = {best}
    if best in kinds:
        chosen.update(node for node, kind in kinds.items()
                      if kind == kinds[best] and good.get(node, 0.0) >= DENSE * sizes.get(node, 1.0))
    out = []
    for b, text in zip(blocks, texts):
        if not text or (strong_boiler and strong_boiler.intersection(b.path)):
            continue
        inside = [i for i, node in enumerate(b.path) if node in chosen]
        if not inside:
            if b.tag == "h1":
                out.append(text)
            continue
        # class-marked containers inside the main content are pruned; those around it are not
        if weak_boiler and weak_boiler.intersection(b.path[inside[0] + 1:]):
            continue
        if b.link / len(text) > 0.5:
            continue
        if b.tag in SKIP_BLOCKS:
            continue
        out.append(text)
    return "\n".join(out)
