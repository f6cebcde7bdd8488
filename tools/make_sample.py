"""Build the embedded sample crawl (curate/samples/sample.warc.gz) from text written for this
project, so the default run ships no third-party page content.

It mimics what a Common Crawl WARC holds: request/response/metadata records, HTML articles in
several languages, navigation-only pages, an exact duplicate, a 404, a redirect, a PDF and an
image. Deterministic: the same file byte for byte on every run.

    python tools/make_sample.py
"""

from __future__ import annotations

import gzip
import hashlib
import html
import io
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "curate" / "samples" / "sample.warc.gz"
DATE = "2026-03-14T12:00:{:02d}Z"

ARTICLES = {
    "en": [
        ("How sourdough starters work",
         ["A sourdough starter is a small, living culture of wild yeast and lactic acid bacteria. Flour and "
          "water are all it needs to begin, because both organisms already live on the grain and in the kitchen.",
          "During the first week the population changes quickly. Early bacteria make the mixture smell sharp or "
          "even unpleasant, but as the acidity rises they give way to the species that give bread its flavour.",
          "Bakers keep a starter alive by feeding it on a schedule. Each feeding removes part of the old culture and "
          "adds fresh flour and water, which keeps the yeast active and the acidity in a useful range.",
          "A healthy starter doubles in volume a few hours after feeding. If it rises slowly, a warmer spot or a "
          "little whole grain flour usually helps, since whole grains carry more nutrients for the microbes."]),
        ("The quiet engineering of suspension bridges",
         ["Suspension bridges carry their deck on vertical hangers that hang from two main cables. The cables pass "
          "over tall towers and are anchored in massive blocks of concrete at each end of the bridge.",
          "Because the main cables work only in tension, they can be made from thousands of thin steel wires. "
          "Engineers spin the wires in place, one pass at a time, and then compact them into a round bundle.",
          "Wind is the greatest challenge. A deck that is too flexible can start to oscillate, so modern designs use "
          "aerodynamic box girders and are tested as scale models in wind tunnels before construction begins.",
          "The result is a structure that spans distances no other bridge type can reach economically, which is why "
          "the longest bridge spans in the world are almost all suspension bridges."]),
        ("Why the sky changes colour at sunset",
         ["Sunlight contains every colour of the visible spectrum. As it passes through the atmosphere, small "
          "molecules of nitrogen and oxygen scatter short blue wavelengths far more strongly than long red ones.",
          "At midday the light reaches us through a relatively thin layer of air, and the scattered blue light "
          "fills the sky from every direction. That is why a clear sky looks blue.",
          "Near sunset the light crosses a much longer path through the atmosphere. Most of the blue is scattered "
          "away before it arrives, leaving the oranges and reds that colour the clouds and the horizon.",
          "Dust, smoke and water droplets add their own effects. After a large volcanic eruption, fine particles "
          "high in the atmosphere can make sunsets unusually vivid for months."]),
        ("A short history of the public library",
         ["Collections of written records are as old as writing itself, but most early libraries belonged to temples, "
          "rulers or wealthy families. Ordinary people rarely had the chance to read the books they held.",
          "Subscription libraries appeared in the eighteenth century. Members paid a fee and shared the cost of "
          "buying books, which made reading cheaper for merchants, craftsmen and teachers.",
          "The modern public library, funded by taxes and open to everyone, spread during the nineteenth century. "
          "Reformers argued that free access to knowledge would improve both education and civic life.",
          "Today libraries lend far more than books. Many offer internet access, language classes, help with job "
          "applications and quiet places to study, and they remain among the most trusted public institutions."]),
        ("Composting at home",
         ["Composting turns kitchen scraps and garden waste into a dark, crumbly material that improves soil. "
          "Microorganisms do the work, and they need air, moisture and a balance of different materials.",
          "Green materials such as vegetable peels and fresh grass clippings supply nitrogen. Brown materials such "
          "as dry leaves, straw and shredded cardboard supply carbon and keep the pile from becoming dense and wet.",
          "Turning the pile every week or two adds oxygen and speeds up decomposition. A well managed pile becomes "
          "warm in the centre, which is a sign that the microbes are active.",
          "Finished compost smells like forest soil. It can be mixed into garden beds, spread around trees or used "
          "as part of a potting mix for containers and seedlings."]),
        ("Learning to read a topographic map",
         ["A topographic map shows the shape of the land with contour lines. Each line connects points of equal "
          "elevation, so following one line means walking neither uphill nor downhill.",
          "Where contour lines are close together the slope is steep, and where they are far apart the ground is "
          "gentle. A set of closed rings usually marks a hill or a summit.",
          "Valleys and ridges are easy to confuse at first. Contour lines bend into a V shape that points uphill "
          "when they cross a stream valley, and downhill when they cross a ridge.",
          "With a little practice a walker can use these patterns to choose a route, estimate how hard a climb will "
          "be and recognise landmarks long before reaching them."]),
        ("How vaccines train the immune system",
         ["The immune system learns to recognise threats by meeting them. A vaccine provides a safe version of that "
          "meeting, so the body can prepare its defences before it encounters a real infection.",
          "Some vaccines contain weakened or inactivated viruses. Others contain only a single protein, or genetic "
          "instructions that let the body's own cells produce that protein for a short time.",
          "In each case the immune system produces antibodies and memory cells. If the real pathogen appears later, "
          "those memory cells respond quickly and strongly, often before any symptoms develop.",
          "When enough people in a community are immune, a disease has difficulty spreading. This protects people "
          "who cannot be vaccinated, such as newborn infants and patients with weakened immune systems."]),
        ("The mathematics of compound interest",
         ["Compound interest is interest calculated on both the original amount and the interest already earned. "
          "Over long periods it grows much faster than simple interest, which is paid on the original amount alone.",
          "If a deposit earns five percent a year, it grows by a factor of about one point six three after ten years "
          "and by more than eleven after fifty years, even though the rate never changes.",
          "A useful shortcut is the rule of seventy two. Dividing seventy two by the yearly rate in percent gives a "
          "rough estimate of how many years it takes for an amount to double.",
          "The same arithmetic works against borrowers. Unpaid credit card balances compound as well, which is why "
          "small debts can become large ones when only the minimum payment is made."]),
    ],
    "de": [("Wie Bienen kommunizieren",
            ["Honigbienen teilen ihren Stockgenossinnen mit, wo sie gute Futterquellen gefunden haben. Dafür führen "
             "sie auf den Waben einen besonderen Tanz auf, den man Schwänzeltanz nennt.",
             "Die Richtung des Tanzes zeigt den Winkel zwischen der Sonne und der Futterquelle an. Die Dauer der "
             "Schwänzelphase verrät, wie weit die Blüten vom Bienenstock entfernt sind.",
             "Andere Bienen folgen der Tänzerin, nehmen den Duft der Blüten auf und fliegen anschließend selbst los. "
             "So findet das ganze Volk in kurzer Zeit die besten Nahrungsquellen der Umgebung."])],
    "fr": [("Le cycle de l'eau",
            ["L'eau de la planète circule sans cesse entre les océans, l'atmosphère et les continents. La chaleur du "
             "soleil fait évaporer l'eau des mers, des lacs et des rivières.",
             "En montant, la vapeur se refroidit et se condense en fines gouttelettes qui forment les nuages. Quand "
             "les gouttes deviennent trop lourdes, elles tombent sous forme de pluie ou de neige.",
             "Une partie de cette eau ruisselle vers les rivières, une autre s'infiltre dans le sol et alimente les "
             "nappes souterraines. Tôt ou tard, elle rejoint la mer et le cycle recommence."])],
    "es": [("El cultivo del olivo",
            ["El olivo es un árbol de crecimiento lento que puede vivir durante siglos. Se adapta bien a los veranos "
             "calurosos y secos y a los inviernos suaves de las regiones mediterráneas.",
             "La cosecha de la aceituna se realiza en otoño e invierno. Los frutos se llevan rápidamente a la almazara, "
             "donde se muelen para obtener una pasta de la que se separa el aceite.",
             "El aceite de oliva virgen extra se obtiene solo por medios mecánicos y conserva el aroma y el sabor del "
             "fruto. Es uno de los pilares de la cocina tradicional de muchos países."])],
}

NAV_ONLY = ["Home", "About us", "Products", "Shop", "Contact", "Login", "Cart (0)", "Privacy", "Terms", "Sitemap"]


def article_html(title: str, paragraphs: list[str], lang: str) -> str:
    nav = "".join(f'<li><a href="/{i}">{html.escape(n)}</a></li>' for i, n in enumerate(NAV_ONLY[:6]))
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"</head><body><header><nav><ul>{nav}</ul></nav></header><main><article><h1>{html.escape(title)}</h1>"
            f"{body}</article></main><footer><p>Copyright 2026 Example Publishing. All rights reserved.</p>"
            f"<p>Subscribe to our newsletter.</p></footer></body></html>")


def nav_only_html() -> str:
    links = "".join(f'<a href="/{i}">{n}</a> ' for i, n in enumerate(NAV_ONLY))
    return f"<html><head><title>Welcome</title></head><body><div>{links}</div></body></html>"


def warc_record(rec_type: str, uri: str, block: bytes, n: int, content_type: str, extra: str = "") -> bytes:
    rid = hashlib.sha1(f"{rec_type}:{uri}:{n}".encode()).hexdigest()
    uuid = f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:32]}"
    head = (f"WARC/1.0\r\nWARC-Type: {rec_type}\r\nWARC-Date: {DATE.format(n % 60)}\r\n"
            f"WARC-Record-ID: <urn:uuid:{uuid}>\r\nWARC-Target-URI: {uri}\r\n{extra}"
            f"Content-Type: {content_type}\r\nContent-Length: {len(block)}\r\n\r\n")
    return head.encode() + block + b"\r\n\r\n"


def http_response(body: bytes, mime: str, status: str = "200 OK", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {mime}\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def pages():
    """(uri, http block) for every response in the sample, in crawl order."""
    n = 0
    for lang, articles in ARTICLES.items():
        for title, paragraphs in articles:
            slug = title.lower().replace(" ", "-").replace("'", "")
            page = article_html(title, paragraphs, lang).encode()
            yield f"https://{lang}.sample.curate.invalid/{slug}", http_response(page, "text/html; charset=utf-8")
            n += 1
            if n == 3:  # the same article published twice under another address
                yield f"https://mirror.sample.curate.invalid/{slug}", http_response(page, "text/html; charset=utf-8")
    yield "https://shop.sample.curate.invalid/", http_response(nav_only_html().encode(), "text/html")
    yield "https://en.sample.curate.invalid/missing", http_response(b"<html><body>Not found</body></html>",
                                                                     "text/html", "404 Not Found")
    yield "https://en.sample.curate.invalid/old", http_response(b"", "text/html", "301 Moved Permanently",
                                                                  "Location: https://en.sample.curate.invalid/\r\n")
    yield "https://en.sample.curate.invalid/report.pdf", http_response(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
                                                                        "application/pdf")
    yield "https://en.sample.curate.invalid/logo.png", http_response(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
                                                                      "image/png")


def build() -> bytes:
    out = io.BytesIO()

    def member(data: bytes) -> None:  # one gzip member per record, as Common Crawl writes them
        out.write(gzip.compress(data, compresslevel=9, mtime=0))

    info = b"software: curate make_sample\r\nformat: WARC File Format 1.0\r\n"
    member(warc_record("warcinfo", "sample.warc.gz", info, 0, "application/warc-fields"))
    for n, (uri, block) in enumerate(pages(), 1):
        request = f"GET / HTTP/1.1\r\nHost: {uri.split('/')[2]}\r\n\r\n".encode()
        member(warc_record("request", uri, request, n, "application/http; msgtype=request"))
        member(warc_record("response", uri, block, n, "application/http; msgtype=response"))
        member(warc_record("metadata", uri, b"fetchTimeMs: 120\r\n", n, "application/warc-fields"))
    return out.getvalue()


if __name__ == "__main__":
    OUT.write_bytes(build())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
