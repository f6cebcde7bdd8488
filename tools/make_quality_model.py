"""Build the demo quality model (curate/samples/quality_model.bin + quality_model.card.json)
from text written for this project, so `curate run pipelines/datacomp.py` works out of the box
without shipping third-party text or a model made from it.

Positives are encyclopedic passages assembled from the sentences below (written for curate);
negatives are web boilerplate, shop, spam, comment and navigation text (also written for curate).
Both go through the same recipe machinery as the real classifier (classifiers/wikipedia_vs_web.py),
with a small model (dim 16, 20k buckets: ~1.5 MB). Deterministic: one training thread, fixed seeds.

The demo model only knows "expository prose" from "web boilerplate"; for real data, train
classifiers/wikipedia_vs_web.py on Wikipedia and web text and point the pipeline at that model.

    python tools/make_quality_model.py
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "curate" / "samples" / "quality_model.bin"

ENCYCLOPEDIC = {
    "rivers": [
        "A river is a natural stream of fresh water that flows towards an ocean, a lake or another river.",
        "Most rivers begin in uplands, where rain and melting snow gather into small channels.",
        "As the channels join, the flow grows larger and the river begins to carve a valley into the land.",
        "In its lower course a river usually slows down and deposits the sand and silt it has carried.",
        "Where a river meets the sea it may form a delta, a wide plain built from layers of sediment.",
        "Rivers have long served as routes for trade, and many of the oldest cities were founded on their banks.",
        "The discharge of a river is the volume of water that passes a point in a given time.",
        "Seasonal floods renew the fertility of the surrounding plains but can also damage farms and towns.",
    ],
    "elements": [
        "A chemical element is a substance whose atoms all have the same number of protons in their nuclei.",
        "The periodic table arranges the elements in order of increasing atomic number.",
        "Elements in the same column of the table share similar chemical properties.",
        "Metals such as iron and copper conduct heat and electricity well and can be shaped without breaking.",
        "The noble gases rarely react with other substances because their outer electron shells are full.",
        "Hydrogen is the lightest element and the most abundant in the universe.",
        "Heavier elements were formed in the cores of stars and scattered by stellar explosions.",
        "Isotopes of an element differ in the number of neutrons in the nucleus.",
    ],
    "history": [
        "The city was founded in the twelfth century as a market town on the road between two larger ports.",
        "During the following centuries it grew into an important centre for the wool trade.",
        "A charter granted by the king in 1312 gave the merchants the right to elect their own council.",
        "The town walls were extended twice, and parts of them survive near the old harbour.",
        "In the nineteenth century the arrival of the railway brought new industries and a rapid rise in population.",
        "Many of the historic buildings were restored after the war, and the old quarter is now protected.",
        "The cathedral, begun in 1220 and completed more than a century later, is the largest building in the region.",
        "Historians disagree about the origin of the name, which first appears in a document of 1154.",
    ],
    "biology": [
        "Birds are warm-blooded vertebrates with feathers, toothless beaks and a high metabolic rate.",
        "Most species build nests in which the female lays hard-shelled eggs.",
        "Many birds migrate over long distances between their breeding and wintering grounds.",
        "The species feeds mainly on insects and seeds, and it is found in open woodland and farmland.",
        "Adults are about twenty centimetres long, with a brown back and a pale, streaked breast.",
        "Populations declined during the twentieth century as hedges were removed and farming changed.",
        "The plant is a perennial herb that grows in damp meadows and along the edges of streams.",
        "Its leaves are arranged in pairs, and the small white flowers appear in late summer.",
        "Fungi are neither plants nor animals; they absorb nutrients from the material on which they grow.",
    ],
    "astronomy": [
        "A planet is a large body that orbits a star and has cleared its orbit of smaller objects.",
        "The inner planets are small and rocky, while the outer planets are giants made mostly of gas and ice.",
        "A moon is a natural satellite that orbits a planet.",
        "Comets are icy bodies that develop a glowing coma and tail when they approach the Sun.",
        "The light from distant galaxies is shifted towards the red end of the spectrum, which shows that the universe is expanding.",
        "Stars form inside clouds of gas and dust that collapse under their own gravity.",
        "The brightness of a star depends on its size, its temperature and its distance from the observer.",
        "Telescopes collect and focus light, allowing astronomers to study objects too faint to see with the eye.",
    ],
    "geography": [
        "The country lies between a mountain range in the north and a broad coastal plain in the south.",
        "Its climate is temperate, with mild winters near the coast and colder conditions in the highlands.",
        "Agriculture remains important, although most of the population now lives in cities.",
        "The capital is the largest city and the seat of the national government.",
        "The island has an area of about four hundred square kilometres and a population of some thirty thousand.",
        "Its economy depends on fishing, tourism and the export of wool.",
        "The region is divided into six districts, each with its own elected council.",
        "The lake is fed by several mountain streams and drains to the sea through a single river.",
    ],
    "music": [
        "The violin is a string instrument played with a bow, and it is the smallest member of its family.",
        "Its four strings are tuned in fifths, and the player changes the pitch by pressing them against the fingerboard.",
        "The instrument developed in northern Italy in the sixteenth century.",
        "A symphony is an extended composition for orchestra, usually in four movements.",
        "The composer wrote more than forty works for the stage, but he is best known for his chamber music.",
        "Folk songs were often passed on by ear and changed as they travelled from one village to the next.",
        "The organ produces sound by driving air through pipes of different lengths.",
    ],
    "technology": [
        "A bridge is a structure built to carry a road, a railway or a path across an obstacle.",
        "Early computers filled entire rooms and were used mainly for scientific and military calculations.",
        "The invention of the transistor made electronic devices smaller, cheaper and more reliable.",
        "A steam engine converts the heat of burning fuel into mechanical work.",
        "The printing press made books far cheaper and helped to spread literacy across Europe.",
        "Canals were dug to connect rivers and to carry heavy goods before the age of the railway.",
        "The telegraph allowed messages to be sent over long distances in a matter of minutes.",
    ],
    "people": [
        "She was born in a small village and studied medicine at the university in the capital.",
        "After qualifying as a doctor, she worked for several years in rural hospitals.",
        "Her research on infectious diseases was widely cited, and she was elected to the national academy.",
        "He began his career as a clerk in a shipping office before turning to journalism.",
        "His first novel was published in 1902 and was praised for its portrait of city life.",
        "In later life he served as a member of parliament and wrote a history of his home region.",
        "The painter is known for landscapes of the coast, many of which are now held in public collections.",
    ],
    "economics": [
        "Inflation is a general rise in the prices of goods and services over a period of time.",
        "Central banks try to keep inflation low and stable by changing interest rates.",
        "Trade between countries allows each to specialise in the goods it can produce most efficiently.",
        "A tax is a compulsory payment to the government, used to fund public services.",
        "Cooperatives are businesses owned and run by their members, who share the profits.",
        "The currency was introduced in 1871 and replaced several older regional coins.",
    ],
}

WEB = [
    "Home | About us | Shop | Blog | Contact | Login | Register",
    "Free shipping on all orders over $50! Use code SAVE20 at checkout.",
    "Add to cart", "Buy now and save 30% today only!!!", "Only 3 left in stock - order soon.",
    "Customer reviews (124) ★★★★☆", "Write a review", "Sort by: Price low to high",
    "We use cookies to improve your experience. By continuing to browse you agree to our cookie policy.",
    "Accept all cookies", "Manage preferences",
    "Subscribe to our newsletter and get 10% off your first order!",
    "Enter your email address", "Sign up", "Follow us on Facebook, Twitter and Instagram",
    "Share this post", "Like", "Reply", "Report", "Posted by admin on March 3, 2021 at 10:42 am",
    "great post thanks for sharing!!", "lol this is so true", "First!", "Can anyone help me with this? thx",
    "Click here to download the free PDF", "Read more >>", "Previous page", "Next page",
    "Copyright © 2024 All rights reserved.", "Privacy policy | Terms of use | Sitemap",
    "Best cheap deals on phones, laptops and TVs - compare prices now",
    "BUY CHEAP WATCHES ONLINE BEST PRICE GUARANTEED", "Hot singles in your area",
    "You won't believe what happened next", "Top 10 tricks doctors don't want you to know",
    "Limited time offer! Ends tonight at midnight!", "Call now: 1-800-555-0199",
    "Size: S M L XL", "Color: black / white / red", "Quantity: 1", "Price: $19.99 $14.99",
    "In stock. Ships within 24 hours.", "30-day money back guarantee",
    "Related products", "Customers also bought", "Recently viewed",
    "Tags: sale, summer, deals, fashion, trending", "Categories: News, Events, Offers",
    "Search...", "Menu", "Close", "Back to top", "Skip to content",
    "Login to your account to see your orders", "Forgot your password?",
    "Our team is here to help you 24/7. Contact our support!",
    "Download our app on the App Store and Google Play",
    "This website uses tracking technologies to personalise ads.",
    "Page 1 of 12", "Showing 1-24 of 356 results", "Load more",
    "Check out my other videos and dont forget to subscribe!!",
    "OMG these shoes are amazing, bought two pairs!!! 5 stars",
    "Delivery was late but the product is ok I guess",
    "Get your free quote today - no obligation!", "Special offer for new customers",
    "Trending now", "Most popular", "Sponsored", "Advertisement",
    "Rated 4.5 out of 5 by 87 customers", "Add to wishlist", "Compare",
    "Join 50,000+ happy customers", "As seen on TV", "100% satisfaction guaranteed",
    "Terms and conditions apply. See store for details.",
    "Click the link in bio for more", "DM for prices", "Visit our showroom today",
]


def _positive(rng: random.Random) -> str:
    topic = rng.choice(sorted(ENCYCLOPEDIC))
    sentences = rng.sample(ENCYCLOPEDIC[topic], min(len(ENCYCLOPEDIC[topic]), rng.randint(4, 7)))
    if rng.random() < 0.5:  # a second topic, as long articles wander
        other = rng.choice(sorted(ENCYCLOPEDIC))
        sentences += rng.sample(ENCYCLOPEDIC[other], 3)
    cut = rng.randint(2, len(sentences) - 1)
    return " ".join(sentences[:cut]) + "\n" + " ".join(sentences[cut:])


def _negative(rng: random.Random) -> str:
    return "\n".join(rng.sample(WEB, rng.randint(6, 16)))


def write_training_data(folder: Path, n: int = 400, seed: int = 7) -> tuple[Path, Path]:
    rng = random.Random(seed)
    paths = folder / "positive.jsonl", folder / "negative.jsonl"
    for path, make in zip(paths, (_positive, _negative)):
        with open(path, "w") as f:
            for i in range(n):
                f.write(json.dumps({"id": f"{path.stem}-{i}", "text": make(rng)}) + "\n")
    return paths


def recipe():
    from curate.quality import Recipe

    return Recipe(name="demo_expository_vs_boilerplate", split_positives=False, min_chars=100, min_tokens=15,
                  language=None, heldout_fraction=0.2, seed=7,
                  fasttext={"dim": 16, "epoch": 10, "lr": 0.1, "wordNgrams": 2, "bucket": 20_000, "minCount": 1})


def build(out: Path = OUT) -> dict:
    from curate.quality import train

    with tempfile.TemporaryDirectory() as tmp:
        positive, negative = write_training_data(Path(tmp))
        card = train(recipe(), [str(positive)], [str(negative)], str(out))
    # the card should not name a temporary folder
    card["inputs"] = {"positive": ["tools/make_quality_model.py: ENCYCLOPEDIC"],
                      "negative": ["tools/make_quality_model.py: WEB"]}
    card.pop("created", None)
    card.pop("train_seconds", None)
    card["data"].pop("seconds", None)
    with open(out.with_name(out.stem + ".card.json"), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    return card


if __name__ == "__main__":
    result = build()
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes); held-out {result['heldout']}")
