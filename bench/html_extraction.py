"""HTML article extraction: how much of a news page's own text each reader keeps, and how much
page chrome it lets through, on synthetic news pages built around real article texts.

The pages are made at run time: N articles are drawn (with --seed) from the corpus
(../shared/bench/rtqa-2023/corpus.jsonl) and each one's text is wrapped, as <p> paragraphs, in one
of five page templates written below (taken in turn): a navigation bar with menu links, a
breaking-news ticker, a cookie banner, share buttons, the byline and date, a "Most read" sidebar
with the headlines of OTHER corpus articles, related-story teasers (headline and first sentence of
other articles) and a footer with copyright and links. Two templates put the body in <article>,
two in nested <div class="content"> without <article> or <main>, one splits the body with an
inline "Related stories" block and a photo <figure> (caption and credit), one has a newsletter
sign-up box and a comments teaser; class names and ids differ between templates. No corpus text
is stored in the repository.

Each extractor's text is scored against the article's own text (the true body) by word
4-shingles: lowercased words (\\w+), every run of 4 consecutive words, counted as MULTISETS (a
shingle the page has twice counts twice). Per page, overlap = size of the multiset intersection;
precision = sum of overlaps / sum of extracted shingles, recall = sum of overlaps / sum of true
shingles, both micro-averaged over pages (summed, then divided), F1 from those two. A page where
the extractor returned no text or raised ("no article text") adds nothing to precision and all of
its true shingles to recall's denominator; it is counted in the "no text" column.

Extractors:
  current reader       rag.articles.read_file on the page saved as a temporary .html file
                       (trafilatura.bare_extraction plus the app's own clean-up), its Article.body
  previous reader      the reader before trafilatura (BeautifulSoup: <article>, else <main>, else
                       <body>, without nav/header/footer/aside/form/...), i.e. rag/articles.py and
                       rag/models.py at commit 3ecacb6, LOADED AT RUN TIME FROM GIT
                       (`git show 3ecacb6:rag/...` into a temporary package, imported with
                       importlib; that old code is not part of the project). Its read_file on the
                       same .html file. Needs beautifulsoup4, which the app no longer depends on;
                       without it (or without git history) the row says "previous reader
                       unavailable" and why.
  trafilatura.extract  trafilatura.extract(html) with default settings, as a reference.
ms per page is the extractor call alone (one untimed warm-up call first).

usage: python bench/html_extraction.py [--articles 200] [--seed 0] [--corpus PATH] [--commit 3ecacb6]
"""

from __future__ import annotations

import argparse
import html
import importlib
import importlib.util
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_CORPUS = ROOT.parent / "shared" / "bench" / "rtqa-2023" / "corpus.jsonl"
PREVIOUS_COMMIT = "3ecacb6"

# ---------------------------------------------------------------- page pieces

E = html.escape
MENU = ["Home", "World", "U.S.", "Politics", "Business", "Tech", "Science", "Health", "Sports",
        "Entertainment", "Opinion", "Video"]
FOOTER_LINKS = ["About us", "Contact", "Careers", "Advertise with us", "Privacy policy", "Terms of use",
                "Cookie settings", "Accessibility", "Site map", "Newsletters"]
SHARE = ["Share on Facebook", "Share on X", "Share on LinkedIn", "Email this story", "Copy link"]
AGENCIES = ["Reuters", "AP Photo", "Getty Images", "AFP via Getty Images", "EPA"]
PHOTOGRAPHERS = ["Jane Doe", "Carlos Mendes", "Aiko Tanaka", "Peter Novak", "Fatima Idris"]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "story"


def first_sentence(text: str, limit: int = 220) -> str:
    para = next((p.strip() for p in text.split("\n") if len(p.strip()) > 40), text.strip())
    sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z\"“])", para, maxsplit=1)[0]
    if len(sentence) > limit:
        sentence = sentence[:limit].rsplit(" ", 1)[0] + "…"
    return sentence


def paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in text.split("\n") if p.strip()]


def nice_date(iso: str) -> str:
    try:
        d = date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return f"{d:%B} {d.day}, {d.year}"


@dataclass
class Page:
    article: dict
    ticker: list[dict]
    most_read: list[dict]
    related: list[dict]
    rng: random.Random
    parts: dict = field(default_factory=dict)

    @property
    def site(self) -> str:
        return self.article.get("source") or "example-news.com"

    @property
    def byline(self) -> str:
        authors = [a for a in self.article.get("authors") or [] if a.strip()][-2:]
        return " and ".join(authors) if authors else f"{self.site} staff"

    @property
    def url(self) -> str:
        return self.article.get("url") or f"https://{self.site}/news/{slug(self.article['title'])}"

    def href(self, a: dict) -> str:
        return E(a.get("url") or f"https://{self.site}/news/{slug(a['title'])}")

    def head(self, with_meta: bool) -> str:
        a = self.article
        meta = ""
        if with_meta:
            meta = (f'<meta property="og:title" content="{E(a["title"])}">\n'
                    f'<meta property="og:site_name" content="{E(self.site)}">\n'
                    f'<meta property="og:url" content="{E(self.url)}">\n'
                    f'<meta property="article:published_time" content="{E(a.get("published") or "")}">\n'
                    f'<meta name="author" content="{E(self.byline)}">\n')
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{E(a["title"])} | {E(self.site)}</title>
{meta}<link rel="canonical" href="{E(self.url)}">
<link rel="stylesheet" href="/static/css/site.{self.rng.randrange(10**6):06d}.css">
<style>.hidden{{display:none}} .ticker{{overflow:hidden;white-space:nowrap}}</style>
<script>window.dataLayer=window.dataLayer||[];dataLayer.push({{"pageType":"article","section":"news"}});</script>
<script async src="/static/js/ads.js"></script>
</head>
"""

    def menu_items(self, li_class: str = "") -> str:
        cls = f' class="{li_class}"' if li_class else ""
        return "".join(f'<li{cls}><a href="/{slug(m)}/">{E(m)}</a></li>' for m in MENU)

    def ticker_items(self) -> list[str]:
        return [f'<a href="{self.href(t)}">{E(t["title"])}</a>' for t in self.ticker]

    def cookie_text(self) -> str:
        return (f"We use cookies and similar technologies to improve your experience on {E(self.site)}, "
                "to personalise content and ads and to analyse our traffic. By clicking “Accept all” you "
                "agree to the storing of cookies on your device. You can change your choice at any time "
                "under Cookie settings.")

    def share(self, tag: str = "a") -> list[str]:
        if tag == "button":
            return [f'<button type="button" data-share="{slug(s)}">{E(s)}</button>' for s in SHARE]
        return [f'<a href="#share-{slug(s)}" rel="nofollow">{E(s)}</a>' for s in SHARE]

    def most_read_items(self) -> list[str]:
        return [f'<a href="{self.href(m)}">{E(m["title"])}</a>' for m in self.most_read]

    def footer_links(self) -> str:
        return "".join(f'<li><a href="/{slug(f)}">{E(f)}</a></li>' for f in FOOTER_LINKS)

    def copyright(self) -> str:
        year = (self.article.get("published") or "2023")[:4]
        return f"© {year} {E(self.site)}. All rights reserved. Reproduction without permission is prohibited."

    def body(self, paras: list[str]) -> str:
        return "\n".join(f"<p>{E(p)}</p>" for p in paras)

    def figure(self) -> str:
        r = self.rng
        caption = f"A scene from the events described in this report: {self.article['title']}"
        return (f'<figure class="inline-image"><img src="/images/{slug(self.article["title"])}.jpg" '
                f'alt="{E(self.article["title"])}" width="1200" height="675" loading="lazy">'
                f'<figcaption>{E(caption)} <span class="photo-credit">Photo: {E(r.choice(PHOTOGRAPHERS))}/'
                f'{E(r.choice(AGENCIES))}</span></figcaption></figure>')

    def comments(self) -> int:
        return self.rng.randrange(3, 400)


# ---------------------------------------------------------------- templates

def template_broadsheet(p: Page) -> str:
    """Semantic HTML5: <header><nav>, body in <article>, related <section>, <aside> and <footer>."""
    a = p.article
    related = "".join(f'<li class="card"><h3><a href="{p.href(r)}">{E(r["title"])}</a></h3>'
                      f'<p class="card-summary">{E(first_sentence(r["text"]))}</p></li>' for r in p.related)
    return p.head(with_meta=True) + f"""<body class="article-page">
<div id="cookie-consent" class="consent-banner" role="dialog" aria-label="Cookie consent">
<p>{p.cookie_text()}</p><button id="accept-cookies">Accept all</button> <button>Manage preferences</button></div>
<header class="site-header"><a class="logo" href="/">{E(p.site)}</a>
<nav class="site-nav" aria-label="Main"><ul>{p.menu_items()}</ul></nav></header>
<div class="ticker" aria-live="polite"><strong>Breaking</strong> {" • ".join(p.ticker_items())}</div>
<main id="main">
<article class="story">
<h1 class="story-headline">{E(a["title"])}</h1>
<div class="story-byline">By <a rel="author" href="/authors/{slug(p.byline)}">{E(p.byline)}</a>
 · <time datetime="{E(a.get("published") or "")}">{nice_date(a.get("published") or "")}</time></div>
<div class="story-share">{"".join(p.share("button"))}</div>
<div class="story-body">
{p.body(paragraphs(a["text"]))}
</div>
</article>
<section class="related-stories"><h2>Related stories</h2><ul>{related}</ul></section>
</main>
<aside class="most-read"><h2>Most read</h2><ol>{"".join(f"<li>{m}</li>" for m in p.most_read_items())}</ol></aside>
<footer class="site-footer"><ul>{p.footer_links()}</ul><p>{p.copyright()}</p></footer>
</body></html>
"""


def template_div_soup(p: Page) -> str:
    """Older CMS: all <div>s, body in nested <div class="content"> (no <article>, no <main>);
    byline as a <p>, related teasers and the sidebar as plain divs."""
    a = p.article
    related = "".join(f'<div class="teaser"><h4><a href="{p.href(r)}">{E(r["title"])}</a></h4>'
                      f'<p>{E(first_sentence(r["text"]))}</p></div>' for r in p.related)
    return p.head(with_meta=False) + f"""<body>
<div id="top"><div class="logo-bar"><a href="/"><img src="/img/logo.png" alt="{E(p.site)}"></a></div>
<div class="menu"><ul>{p.menu_items("menu-item")}</ul></div></div>
<div class="breaking-bar"><span class="label">BREAKING NEWS:</span> {" | ".join(p.ticker_items())}</div>
<div class="cookie-notice"><p>{p.cookie_text()}</p><a href="#" class="btn-ok">OK</a></div>
<div class="wrapper">
<div class="content">
<div class="content">
<h1 class="headline">{E(a["title"])}</h1>
<p class="meta">By {E(p.byline)} | Published {nice_date(a.get("published") or "")}</p>
<div class="social">{" ".join(p.share())}</div>
<div class="text">
{p.body(paragraphs(a["text"]))}
</div>
<div class="related-links"><h3>Related stories</h3>{related}</div>
</div>
</div>
<div class="sidebar"><h3>Most read</h3><ol>{"".join(f"<li>{m}</li>" for m in p.most_read_items())}</ol></div>
</div>
<div class="page-footer"><ul class="links">{p.footer_links()}</ul><p class="copy">{p.copyright()}</p></div>
</body></html>
"""


def template_split_body(p: Page) -> str:
    """<article> whose body is split by an inline "Related stories" block and a photo <figure>."""
    a = p.article
    paras = paragraphs(a["text"])
    half = (len(paras) + 1) // 2
    inline = "".join(f'<li><a href="{p.href(r)}">{E(r["title"])}</a></li>' for r in p.related)
    return p.head(with_meta=True) + f"""<body id="page-story">
<header class="masthead"><div class="brand"><a href="/">{E(p.site)}</a></div>
<nav id="nav-primary"><ul>{p.menu_items()}</ul></nav>
<ul class="news-ticker">{"".join(f"<li>{t}</li>" for t in p.ticker_items())}</ul></header>
<div class="gdpr-consent" role="dialog"><p>{p.cookie_text()}</p><button>I agree</button><button>Reject</button></div>
<article id="story" class="article">
<header class="article-header"><h1>{E(a["title"])}</h1>
<p class="byline"><span class="author">{E(p.byline)}</span>
<time class="dateline" datetime="{E(a.get("published") or "")}">{nice_date(a.get("published") or "")}</time></p>
<ul class="share-tools">{"".join(f"<li>{s}</li>" for s in p.share())}</ul></header>
<div class="article-body">
{p.body(paras[:half])}
<div class="inline-related"><h2>Related stories</h2><ul>{inline}</ul></div>
{p.figure()}
{p.body(paras[half:])}
</div>
</article>
<aside class="rail"><section class="popular"><h2>Most read</h2><ul>{"".join(f"<li>{m}</li>" for m in p.most_read_items())}</ul></section></aside>
<footer id="footer"><nav class="footer-nav"><ul>{p.footer_links()}</ul></nav><small>{p.copyright()}</small></footer>
</body></html>
"""


def template_newsletter(p: Page) -> str:
    """No <article>/<main>: body in nested <div class="content">, a newsletter sign-up box after the
    third paragraph, a comments teaser after the body."""
    a = p.article
    paras = paragraphs(a["text"])
    related = "".join(f'<div class="rel-item"><a href="{p.href(r)}"><span class="rel-title">{E(r["title"])}</span></a>'
                      f'<span class="rel-dek">{E(first_sentence(r["text"]))}</span></div>' for r in p.related)
    newsletter = f"""<div class="newsletter-signup" id="nl-box"><h3>Get the Morning Briefing</h3>
<p>Sign up for our free newsletter: the day's top stories from {E(p.site)}, delivered to your inbox every weekday morning.</p>
<form action="/newsletter/subscribe" method="post"><input type="email" name="email" placeholder="Your email address">
<button type="submit">Sign up</button></form><p class="fineprint">You can unsubscribe at any time. See our privacy policy.</p></div>"""
    return p.head(with_meta=True) + f"""<body class="single">
<div class="header"><div class="header-inner"><a class="site-logo" href="/">{E(p.site)}</a>
<nav id="primary-menu"><ul>{p.menu_items("nav-link")}</ul></nav></div>
<div class="live-ticker"><b>Live:</b> {"".join(f'<span class="tick">{t}</span>' for t in p.ticker_items())}</div></div>
<div id="page" class="site">
<div class="content">
<div class="article-wrap">
<div class="content">
<h1 class="post-title">{E(a["title"])}</h1>
<div class="author-info"><img src="/img/avatar.png" alt=""><span class="name">{E(p.byline)}</span>
<span class="date">{nice_date(a.get("published") or "")}</span></div>
<div class="share-bar">{"".join(p.share())}</div>
{p.body(paras[:3])}
{newsletter}
{p.body(paras[3:])}
</div>
<div class="comments-teaser"><h3>Comments ({p.comments()})</h3>
<p>Join the conversation: read what other readers think and share your view.</p><a href="#comments">View comments</a></div>
</div>
<div class="more-stories"><h3>More on this story</h3>{related}</div>
</div>
<div class="right-column"><div class="box most-read"><h3>Most read</h3><ul>{"".join(f"<li>{m}</li>" for m in p.most_read_items())}</ul></div></div>
</div>
<div id="cookie-bar" class="cookie-bar"><span>{p.cookie_text()}</span><a href="#" id="cookie-accept">Accept</a></div>
<div class="footer"><div class="footer-links"><ul>{p.footer_links()}</ul></div><div class="legal">{p.copyright()}</div></div>
</body></html>
"""


def template_blog(p: Page) -> str:
    """WordPress-like: <article class="post"> with share and related posts inside the entry
    content, a widget-area sidebar (divs) and a colophon footer."""
    a = p.article
    related = "".join(f'<p class="jp-relatedposts-post"><a href="{p.href(r)}"><strong>{E(r["title"])}</strong></a> '
                      f'{E(first_sentence(r["text"]))}</p>' for r in p.related)
    return p.head(with_meta=False) + f"""<body class="post-template-default single single-post">
<div id="cookie-law-info-bar"><span>{p.cookie_text()}</span> <a role="button" id="cookie_action_close_header">ACCEPT</a></div>
<div class="topbar"><div class="top-menu"><ul id="menu-top" class="menu">{p.menu_items("menu-item menu-item-type-taxonomy")}</ul></div></div>
<div class="ticker-wrap"><div class="ticker-title">Trending</div><div class="ticker-items">{"".join(f'<div class="ticker-item">{t}</div>' for t in p.ticker_items())}</div></div>
<div id="content" class="site-content"><div class="container">
<div id="primary" class="content-area">
<article id="post-{p.rng.randrange(10**5)}" class="post type-post status-publish">
<header class="entry-header"><h1 class="entry-title">{E(a["title"])}</h1>
<div class="entry-meta"><span class="posted-on">Posted on <time class="entry-date published" datetime="{E(a.get("published") or "")}">{nice_date(a.get("published") or "")}</time></span>
<span class="byline"> by <span class="author vcard"><a class="url fn n" href="/author/{slug(p.byline)}/">{E(p.byline)}</a></span></span></div></header>
<div class="entry-content">
{p.body(paragraphs(a["text"]))}
<div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">Share this:</h3><ul>{"".join(f"<li>{s}</li>" for s in p.share())}</ul></div>
<div id="jp-relatedposts" class="jp-relatedposts"><h3 class="jp-relatedposts-headline"><em>Related</em></h3>{related}</div>
</div>
</article>
</div>
<div id="secondary" class="widget-area"><section class="widget widget_popular"><h2 class="widget-title">Most read</h2><ul>{"".join(f"<li>{m}</li>" for m in p.most_read_items())}</ul></section></div>
</div></div>
<div id="colophon" class="site-footer"><div class="site-info"><ul>{p.footer_links()}</ul><p>{p.copyright()} Proudly powered by WordPress.</p></div></div>
</body></html>
"""


TEMPLATES = {"broadsheet": template_broadsheet, "div-soup": template_div_soup, "split-body": template_split_body,
             "newsletter": template_newsletter, "blog": template_blog}


def build_pages(corpus: Path, n: int, seed: int) -> list[tuple[str, str, str]]:
    """(template name, html, true body) for n articles drawn from the corpus."""
    records = [json.loads(line) for line in open(corpus, encoding="utf-8") if line.strip()]
    records = [r for r in records if (r.get("text") or "").strip() and (r.get("title") or "").strip()]
    rng = random.Random(seed)
    chosen = rng.sample(range(len(records)), min(n, len(records)))
    names = list(TEMPLATES)
    pages = []
    for k, i in enumerate(chosen):
        others = [records[j] for j in rng.sample(range(len(records)), 16) if j != i][:11]
        page = Page(records[i], ticker=others[:3], most_read=others[3:8], related=others[8:11], rng=rng)
        name = names[k % len(names)]
        pages.append((name, TEMPLATES[name](page), records[i]["text"]))
    return pages


# ---------------------------------------------------------------- extractors

def load_previous_reader(commit: str):
    """rag/articles.py (and the rag/models.py it imports) at `commit`, from git, as a temporary
    package; returns (module, None) or (None, why not)."""
    if importlib.util.find_spec("bs4") is None:
        return None, "needs beautifulsoup4 (pip install beautifulsoup4), which the app no longer depends on"
    package = f"rag_at_{commit}"
    with tempfile.TemporaryDirectory(prefix="previous_reader_") as tmp:
        folder = Path(tmp) / package
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        for name in ("models.py", "articles.py"):
            shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:rag/{name}"],
                                   capture_output=True, text=True)
            if shown.returncode != 0:
                return None, f"git show {commit}:rag/{name} failed: {shown.stderr.strip() or shown.returncode}"
            (folder / name).write_text(shown.stdout, encoding="utf-8")
        try:
            spec = importlib.util.spec_from_file_location(package, folder / "__init__.py",
                                                          submodule_search_locations=[str(folder)])
            root = importlib.util.module_from_spec(spec)
            sys.modules[package] = root
            spec.loader.exec_module(root)
            module = importlib.import_module(f"{package}.articles")
        except Exception as e:  # noqa: BLE001 - any failure means: not available
            return None, f"import failed: {type(e).__name__}: {e}"
    return module, None


def file_reader(read_file):
    def extract(html_path: Path, html_text: str) -> str:
        result = read_file(html_path)
        return "\n\n".join(a.body for a in result.articles)
    return extract


def extractors(commit: str) -> list[tuple[str, object, str | None]]:
    import trafilatura

    from rag import articles as current

    out = [("current reader (rag.articles)", file_reader(current.read_file), None)]
    previous, why = load_previous_reader(commit)
    out.append((f"previous reader ({commit})", file_reader(previous.read_file) if previous else None, why))
    out.append(("trafilatura.extract", lambda path, text: trafilatura.extract(text) or "", None))
    return out


# ---------------------------------------------------------------- scoring

def shingles(text: str, k: int = 4) -> Counter:
    words = re.findall(r"\w+", text.lower())
    return Counter(tuple(words[i:i + k]) for i in range(len(words) - k + 1))


@dataclass
class Score:
    pages: int = 0
    empty: int = 0
    overlap: int = 0
    extracted: int = 0
    true: int = 0
    seconds: float = 0.0
    raised: Counter = field(default_factory=Counter)

    def add(self, out: str, truth: Counter, seconds: float) -> None:
        self.pages += 1
        self.seconds += seconds
        self.true += sum(truth.values())
        got = shingles(out)
        if not out.strip():
            self.empty += 1
            return
        self.overlap += sum((got & truth).values())
        self.extracted += sum(got.values())

    @property
    def precision(self) -> float:
        return self.overlap / self.extracted if self.extracted else 0.0

    @property
    def recall(self) -> float:
        return self.overlap / self.true if self.true else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--commit", default=PREVIOUS_COMMIT, help="the commit whose rag/articles.py is the previous reader")
    args = ap.parse_args()

    pages = build_pages(args.corpus, args.articles, args.seed)
    truths = [shingles(body) for _, _, body in pages]
    readers = extractors(args.commit)
    scores: dict[str, Score] = {}
    by_template: dict[tuple[str, str], Score] = {}
    with tempfile.TemporaryDirectory(prefix="html_extraction_") as tmp:
        paths = []
        for n, (name, page_html, _) in enumerate(pages):
            path = Path(tmp) / f"page-{n:04d}-{name}.html"
            path.write_text(page_html, encoding="utf-8")
            paths.append(path)
        for label, extract, _why in readers:
            if extract is None:
                continue
            try:  # warm-up, untimed
                extract(paths[0], pages[0][1])
            except Exception:  # noqa: BLE001
                pass
            score = scores[label] = Score()
            for (name, page_html, _), path, truth in zip(pages, paths, truths):
                started = time.perf_counter()
                try:
                    out = extract(path, page_html) or ""
                except Exception as e:  # noqa: BLE001 - a reader that raises found no article text
                    out = ""
                    score.raised[type(e).__name__] += 1
                seconds = time.perf_counter() - started
                score.add(out, truth, seconds)
                by_template.setdefault((label, name), Score()).add(out, truth, seconds)

    words = sum(len(re.findall(r"\w+", b)) for _, _, b in pages)
    page_chars = sum(len(h) for _, h, _ in pages)
    print(f"{len(pages)} synthetic news pages ({len(TEMPLATES)} templates, seed {args.seed}) from {args.corpus.name}: "
          f"{words / len(pages):.0f} body words and {page_chars / len(pages) / 1000:.1f} kB of HTML per page on average")
    print("scored by lowercased word 4-shingles as multisets, micro-averaged over pages\n")
    header = f"{'extractor':32s} {'pages':>5s} {'no text':>7s} {'precision':>9s} {'recall':>7s} {'F1':>6s} {'ms/page':>8s}"
    print(header)
    print("-" * len(header))
    for label, extract, why in readers:
        if extract is None:
            print(f"{label:32s} previous reader unavailable: {why}")
            continue
        s = scores[label]
        print(f"{label:32s} {s.pages:5d} {s.empty:7d} {s.precision:9.3f} {s.recall:7.3f} {s.f1:6.3f} "
              f"{1000 * s.seconds / s.pages:8.1f}")
    for label, s in scores.items():
        if s.raised:
            print(f"  {label}: raised on {sum(s.raised.values())} pages "
                  f"({', '.join(f'{k} {v}' for k, v in s.raised.most_common())})")

    print("\nF1 by template (pages each)")
    print(f"{'extractor':32s} " + " ".join(f"{t:>11s}" for t in TEMPLATES))
    for label in scores:
        cells = []
        for t in TEMPLATES:
            s = by_template.get((label, t))
            cells.append(f"{s.f1:6.3f} ({s.pages:2d})" if s else f"{'-':>11s}")
        print(f"{label:32s} " + " ".join(f"{c:>11s}" for c in cells))


if __name__ == "__main__":
    main()
