"""Reading article files: the saved-page seed format, Markdown, HTML, JSON and JSONL, and bad files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from news_fixtures import SEED
from rag.articles import ArticleError, content_hash, read_file


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def only_article(path: Path):
    result = read_file(path)
    assert result.errors == []
    assert len(result.articles) == 1
    return result.articles[0]


# ---------------------------------------------------------------- the seed format (saved news page)

@pytest.fixture(scope="module")
def seed():
    return only_article(SEED)


def test_seed_metadata(seed):
    assert seed.title == "US analysts claim that Putin rigorously rebuffed two plans from Lukashenko"
    assert seed.published == "2022-12-20"
    assert seed.authors == ["Patrick Mayer"]
    assert seed.source == "merkur"
    assert seed.path == str(SEED)


@pytest.mark.parametrize("chrome", [
    "The Limited Times",
    "Now you can see non-English news",
    "Created:",
    "By: Patrick Mayer",
    "also read",
    "READ",
    "Probably three dead in the explosion",
    "Debate about wage increases for 1.7 million civil servants",
    "I'm a bit ashamed",
    "In the video:",
    "Fancy a voyage of discovery?",
    "My space",
    "Source: merkur",
    "All news articles on",
    "You may like",
    "Trends 24h",
    "© Communities",
    "IMAGO/Pavel Bednyakov",
    "The information on this site is from external sources",
])
def test_seed_body_has_no_site_chrome(seed, chrome):
    assert chrome not in seed.body


def test_seed_teaser_and_title_are_not_repeated_in_the_body(seed):
    assert seed.title not in seed.body
    # the teaser runs the first paragraphs together; the body holds them once, as paragraphs
    assert seed.body.count("Autocrats among themselves") == 1
    assert seed.body.startswith("Autocrats among themselves: Belarusian President Alexander Lukashenko (left)")


def test_seed_body_keeps_the_article_text(seed):
    assert "We don't interfere, we don't kill anyone" in seed.body
    assert "Munich/Minsk - There was something contradictory about the location of the meeting." in seed.body
    assert "Kremlin spokesman Dmitry Peskov emphasized that Moscow was not trying to press Minsk." in seed.body
    assert seed.body.rstrip().endswith("operation of the Russian Federation in Ukraine.")
    # one paragraph per block, no stray blank lines
    assert "\n\n\n" not in seed.body
    assert "Vladimir Putin and Alexander Lukashenko meet in Minsk.\n\nAccording to one assessment" in seed.body


def test_a_source_line_inside_a_saved_page_is_its_text_and_the_last_one_its_outlet(tmp_path):
    # A "Source: ..." line under a table cut the article there (its later paragraphs lost, with no warning)
    # and named the outlet after the table's source (a tester).
    page = ("Marlow Times\n\nFlu wards fill up\n\n2024-01-10T08:00:00Z\n\nFlu wards fill up\n\nBy: Ann Lee\n\n"
            "Flu cases doubled in a week, the health board said.\n\nSource: Marlow health board weekly figures\n\n"
            "Hospital chief Dr Priya Nand said the wards had added forty beds to cope.\n\nSource: marlowtimes\n\n"
            "All news articles on 2024-01-10\n\nSource: a footer's own line\n")  # (the footer's lines are not looked at)
    article = only_article(write(tmp_path / "flu.txt", page))
    assert article.source == "marlowtimes" and article.authors == ["Ann Lee"]
    assert article.body.endswith("Hospital chief Dr Priya Nand said the wards had added forty beds to cope.")
    assert "Source: Marlow health board weekly figures" in article.body
    # a "Source:" line before the text names the outlet and the text after it is kept
    header = only_article(write(tmp_path / "header.txt", "Site\n\nFerry returns\n\n2024-02-01T09:00:00Z\n\n"
                                                         "Source: coastnews\n\nThe ferry returned on Monday.\n"))
    assert (header.source, header.body) == ("coastnews", "The ferry returned on Monday.")


def test_plain_text_first_short_paragraph_is_the_title(tmp_path):
    article = only_article(write(tmp_path / "note.txt", "Harbour reopens after storm\n\nThe harbour reopened\non Monday.\n\n"
                                                        "Ferries run again.\n"))
    assert article.title == "Harbour reopens after storm"
    assert article.body == "The harbour reopened on Monday.\n\nFerries run again."


def test_plain_text_with_one_paragraph_is_titled_from_the_file_name(tmp_path):
    article = only_article(write(tmp_path / "city_council-vote.txt", "The council voted nine to two.\n"))
    assert article.title == "city council vote"
    assert article.body == "The council voted nine to two."


def test_windows_1252_and_utf16_files_are_read_and_said(tmp_path):
    result = read_file(write_bytes(tmp_path / "latin1.txt", "Café in Zürich\n\nThe café reopened.".encode("cp1252")))
    assert result.articles[0].title == "Café in Zürich" and "read as Windows-1252" in result.warnings[0]
    utf16 = read_file(write_bytes(tmp_path / "utf16.txt", "Zürich news\n\nThe lake froze.".encode("utf-16")))
    assert (utf16.articles[0].title, utf16.articles[0].body, utf16.warnings) == ("Zürich news", "The lake froze.", [])


def test_a_saved_page_is_read_in_the_charset_its_meta_names(tmp_path):
    # A page saved from a Russian site in windows-1251 was read as Windows-1252: "Òåñò Ïðåçèäåíò".
    page = ("<html><head><meta charset='windows-1251'><title>Тест Президент</title></head><body><article>"
            "<h1>Тест Президент</h1><p>Президент подписал закон о бюджете в понедельник вечером, сообщили в "
            "пресс-службе.</p><p>Закон вступит в силу с первого января следующего года.</p></article></body></html>")
    article = only_article(write_bytes(tmp_path / "news.html", page.encode("cp1251")))
    assert "Президент подписал закон" in article.body
    # a page re-encoded as UTF-8 when it was saved, its <meta> left as it was: read as UTF-8
    resaved = only_article(write_bytes(tmp_path / "resaved.html", page.encode("utf-8")))
    assert "Президент подписал закон" in resaved.body
    # Latin-1 declared: read as Windows-1252, its superset, as browsers do
    western = ("<html><head><meta http-equiv='Content-Type' content='text/html; charset=iso-8859-1'></head><body>"
               "<article><h1>Café</h1><p>Le café a rouvert ses portes lundi matin après deux ans de travaux, a "
               "annoncé la mairie.</p><p>Les habitants étaient nombreux à l’ouverture.</p></article></body></html>")
    assert "Le café a rouvert" in only_article(write_bytes(tmp_path / "fr.html", western.encode("cp1252"))).body
    # a label read as browsers read it: "gb2312" pages are written in GBK (镕 is not in GB2312)
    chinese = ("<html><head><meta charset='gb2312'></head><body><article><h1>朱镕基访问上海</h1><p>前总理朱镕基"
               "星期一访问了上海的一所大学，并与学生们进行了交流。</p><p>他在讲话中谈到了经济改革的历史。</p>"
               "</article></body></html>")
    assert "前总理朱镕基" in only_article(write_bytes(tmp_path / "zh.html", chinese.encode("gbk"))).body


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_lines_ended_the_windows_or_the_old_mac_way_read_as_lines(tmp_path, ending):
    # lines ended by CR alone (old Macs, some exporters) read as one line: no title, CRs in every quote
    text = ending.join(["Harbour reopens", "", "The harbour reopened on Monday.", "", "Ferries run again.", ""])
    article = read_file(write_bytes(tmp_path / "harbour.txt", text.encode())).articles[0]
    assert (article.title, article.body) == ("Harbour reopens", "The harbour reopened on Monday.\n\nFerries run again.")
    md = read_file(write_bytes(tmp_path / "harbour.md", ("# Harbour reopens" + ending * 2 + "The harbour reopened.").encode()))
    assert (md.articles[0].title, "\r" in md.articles[0].body) == ("Harbour reopens", False)
    record = {"title": "Harbour reopens", "text": ending.join(["The harbour reopened.", "", "Ferries run again."])}
    jsonl = read_file(write_bytes(tmp_path / "feed.jsonl", (json.dumps(record) + "\n").encode())).articles[0]
    assert jsonl.body == "The harbour reopened.\n\nFerries run again."


def test_nul_bytes_anywhere_are_removed_and_said(tmp_path):
    text = "Harbour news\n\n" + "The harbour reopened. " * 500 + "\x00Ferries run again."
    result = read_file(write_bytes(tmp_path / "nul.txt", text.encode()))
    assert "\x00" not in result.articles[0].body and result.articles[0].body.endswith("Ferries run again.")
    assert "control character" in result.warnings[0]


def test_same_text_in_two_files_is_two_articles_with_one_content(tmp_path):
    text = "Harbour reopens after storm\n\nThe harbour reopened on Monday.\n"
    a = only_article(write(tmp_path / "a.txt", text))
    b = only_article(write(tmp_path / "b.txt", text.replace("\n", "\r\n")))
    assert a.id != b.id  # an id names one article in one file; the store keeps the text once (test_indexing)
    assert content_hash(a.title + a.body) == content_hash(b.title + b.body)


# ---------------------------------------------------------------- Markdown

def test_markdown_front_matter(tmp_path):
    article = only_article(write(tmp_path / "drills.md", """---
title: "Taiwan holds drills: day two"
published: 2023-03-05T10:00:00Z
source: reuters.com
url: https://example.com/taiwan-drills
authors: ["Jane Roe", "John Doe"]
---
# A heading that is not the title

Ships sailed near
the strait.

Officials said little.
"""))
    assert article.title == "Taiwan holds drills: day two"
    assert article.published == "2023-03-05"
    assert article.source == "reuters.com"
    assert article.url == "https://example.com/taiwan-drills"
    assert article.authors == ["Jane Roe", "John Doe"]
    assert "---" not in article.body and "published:" not in article.body
    assert "Ships sailed near the strait.\n\nOfficials said little." in article.body


def test_markdown_heading_is_the_title(tmp_path):
    article = only_article(write(tmp_path / "x.md", "# Flood warning for the valley\n\nRivers rose overnight.\n"))
    assert article.title == "Flood warning for the valley"
    assert article.body == "Rivers rose overnight."
    assert article.published == ""


def test_the_front_matter_title_repeated_as_a_heading_is_not_body_text(tmp_path):
    article = only_article(write(tmp_path / "x.md", "---\ntitle: Flood warning for the valley\n---\n"
                                                    "# Flood warning for the valley\n\nRivers rose overnight.\n"))
    assert article.title == "Flood warning for the valley" and article.body == "Rivers rose overnight."


def test_markdown_shows_its_text_not_its_marks(tmp_path):
    # A title ending with a quotation lost its closing mark; list items and table rows were folded into one
    # line with their neighbours ("- a 34-year-old ... - a retired teacher, 71 - ..."), so no quote could be
    # one of them, and "##", "**" and "[text](address)" were quoted as they stood.
    article = only_article(write(tmp_path / "vote.md", """---
title: "Council renames Oak Avenue \\"Veterans Way\\""
---
The council voted 7-2 on **Tuesday**, said [the clerk](https://example.com/clerk "Clerk").

## The victims

- a 34-year-old truck driver from Dunmore
- a retired teacher, 71,
  who lived near the bridge
1. two siblings, aged 9 and 12

| Option | Cost |
|---|:---:|
| Full replacement | $95 million |

The work starts in May.
"""))
    assert article.title == 'Council renames Oak Avenue "Veterans Way"'
    assert article.body.split("\n\n") == [
        "The council voted 7-2 on Tuesday, said the clerk.", "The victims", "a 34-year-old truck driver from Dunmore.",
        "a retired teacher, 71, who lived near the bridge.", "1. two siblings, aged 9 and 12.", "Option | Cost",
        "Option: Full replacement; Cost: $95 million.", "The work starts in May."]  # a row as a sentence
    assert only_article(write(tmp_path / "q.md", "---\ntitle: 'It''s \"done\"'\n---\nText.\n")).title == "It's \"done\""
    # a number that starts a line inside a paragraph is text (CommonMark), an item's next lines go on with it
    listed = only_article(write(tmp_path / "l.md", "The measures are:\n1. Tax cuts.\n2. Spending.\n"))
    assert listed.body.split("\n\n") == ["The measures are:", "1. Tax cuts.", "2. Spending."]  # a list from 1
    # an item ends as a sentence, so that it can be quoted; a menu's short items and a lead-in stay as they are
    items = only_article(write(tmp_path / "i.md", "- Politics\n- The plan would:\n- raise the levy by 4%;\n"
                                                  "- Fares frozen until 2027\n"))
    assert items.body.split("\n\n") == ["Politics", "The plan would:", "raise the levy by 4%.", "Fares frozen until 2027."]
    # (the review) a table of contents, a teaser or a related story is no claim of the article's: never a sentence
    contents = only_article(write(tmp_path / "c.md", "- What the budget means for you\n- Read the full budget here\n"
                                                     "- [Mayor Smith resigns after ethics probe](https://x.example/a)\n"))
    assert contents.body.split("\n\n") == ["What the budget means for you", "Read the full budget here",
                                           "Mayor Smith resigns after ethics probe"]
    page = only_article(write(tmp_path / "c.html", "<html><body><article><p>The council met on Tuesday to pass the "
                              "budget for the coming year.</p><ul><li><a href='/a'>Mayor Smith resigns after ethics "
                              "probe</a></li><li>Bus fares frozen until 2027</li></ul></article></body></html>"))
    assert "Mayor Smith resigns after ethics probe\n" in page.body + "\n" and "Bus fares frozen until 2027." in page.body
    prose = only_article(write(tmp_path / "p.md", "# Cup\n\nThe final score was 3 to\n2. The crowd cheered.\n\n"
                                                  "- The mayor said it ends in April,\nwell after the vote.\n\n* * *\n\n"
                                                  "See [Mercury](https://x.example/Mercury_(planet)) today.\n\n"
                                                  "```\n# not a heading\n- not an item\n```\n"))
    assert prose.body.split("\n\n") == ["The final score was 3 to 2. The crowd cheered.",
                                        "The mayor said it ends in April, well after the vote.", "See Mercury today.",
                                        "# not a heading - not an item"]  # (a code block's lines as they are)


# ---------------------------------------------------------------- HTML

PAGE = """<!doctype html><html><head>
<title>Page title | Example News</title>
<meta property="og:title" content="Minister resigns over budget">
<meta property="og:site_name" content="cnn.com">
<meta property="og:url" content="https://cnn.com/2023/04/01/minister">
<meta property="article:published_time" content="2023-04-01T08:00:00Z">
<meta name="author" content="Ann Lee">
<style>.headline { color: red }</style>
<script>var tracking = "SCRIPT-TEXT";</script>
</head><body>
<nav>Home | World | NAV-TEXT</nav><header>HEADER-TEXT</header>
<article><h1>Minister resigns over budget</h1>
<p>The finance minister <a href="/x">resigned</a> on <em>Saturday</em>, aides said.</p>
<script>track("INLINE-SCRIPT")</script>
<blockquote><p>"I take full responsibility," she said.</p></blockquote>
<ul><li><p>Budget talks collapsed.</p></li><li>Elections may follow.</li></ul>
<p>Her deputy<br>takes over.</p>
<aside>ASIDE-TEXT</aside>
</article>
<footer>FOOTER-TEXT</footer></body></html>"""


@pytest.fixture
def page(tmp_path):
    return only_article(write(tmp_path / "minister.html", PAGE))


def test_html_metadata(page):
    assert page.title == "Minister resigns over budget"
    assert page.published == "2023-04-01"
    assert page.source == "cnn.com"
    assert page.url == "https://cnn.com/2023/04/01/minister"
    assert page.authors == ["Ann Lee"]


def test_a_pages_outlet_is_named_as_the_page_writes_it(tmp_path):
    # trafilatura capitalises a lower-case site name ("Brenfordherald"): the outlet was stored under two
    # spellings (its Markdown articles say "brenfordherald"), and the outlet filter found only one of them
    own = only_article(write(tmp_path / "p.html", PAGE.replace('content="cnn.com"', 'content="brenfordherald"')))
    assert own.source == "brenfordherald"


@pytest.mark.parametrize("dropped", ["SCRIPT-TEXT", "INLINE-SCRIPT", "NAV-TEXT", "HEADER-TEXT", "FOOTER-TEXT",
                                     "ASIDE-TEXT", "color: red", "Page title"])
def test_html_drops_scripts_styles_and_navigation(page, dropped):
    assert dropped not in page.body


def test_html_body_reads_like_the_page(page):
    assert page.body == ("The finance minister resigned on Saturday, aides said.\n\n"
                         "\"I take full responsibility,\" she said.\n\n"
                         "Budget talks collapsed.\n\n"  # list items without trafilatura's "- " marker
                         "Elections may follow.\n\n"
                         "Her deputy\n\ntakes over.")  # a <br> breaks the line


def test_html_without_meta_uses_title_tag_and_time(tmp_path):
    article = only_article(write(tmp_path / "p.html", "<html><head><title>Storm hits coast</title></head><body>"
                                                      "<time datetime='2023-02-11'>Feb 11</time>"
                                                      "<div>Winds reached 120 km/h.</div></body></html>"))
    assert article.title == "Storm hits coast"
    assert article.published == "2023-02-11"
    assert "Winds reached 120 km/h." in article.body


# ---------------------------------------------------------------- JSON and JSONL

def test_json_single_object(tmp_path):
    article = only_article(write(tmp_path / "one.json", json.dumps(
        {"id": "a-1", "title": "Port strike ends", "text": "Dockers returned\nto work.", "published": "2023-06-01",
         "source": "bbc.com", "url": "https://bbc.com/port", "authors": ["Sam Smith"]})))
    assert (article.record_id, article.title, article.published, article.source, article.url, article.authors) == (
        "a-1", "Port strike ends", "2023-06-01", "bbc.com", "https://bbc.com/port", ["Sam Smith"])
    assert article.body == "Dockers returned to work."


def test_json_list(tmp_path):
    result = read_file(write(tmp_path / "list.json", json.dumps(
        [{"title": "One", "body": "First story."}, {"title": "Two", "content": "Second story."},
         {"title": "No text"}])))
    assert [a.title for a in result.articles] == ["One", "Two"]
    assert [a.body for a in result.articles] == ["First story.", "Second story."]
    assert len(result.errors) == 1 and result.errors[0].startswith("record 3: no article text")


def test_newsapi_response(tmp_path):
    result = read_file(write(tmp_path / "newsapi.json", json.dumps({"status": "ok", "totalResults": 1, "articles": [
        {"source": {"id": None, "name": "BBC News"}, "author": "Sam Smith, Ann Lee", "title": "Rates rise",
         "url": "https://bbc.com/rates", "publishedAt": "2023-05-01T12:00:00Z", "content": "The bank raised rates."}]})))
    assert result.errors == []
    [article] = result.articles
    assert (article.title, article.source, article.published, article.url) == (
        "Rates rise", "BBC News", "2023-05-01", "https://bbc.com/rates")
    assert article.authors == ["Sam Smith", "Ann Lee"]
    assert article.body == "The bank raised rates."


def test_a_news_api_text_in_html_and_cut_short_reads_as_text(tmp_path):
    # NewsAPI's `content` came as the page's HTML, with "&amp;" and its cut mark "[+2412 chars]": all three
    # were quoted in answers, and the description, which the export has whole, was left out.
    records = [{"title": "Port &amp; harbour expand", "description": "The harbour adds two berths, the port said.",
                "content": "<p>It adds two berths &amp; four cranes.</p><ul><li>Berth 7 opens in 2028</li></ul>"
                           "The expansion is funded by a state lo… [+2412 chars]"},
               {"title": "Maths", "content": "Whether x < y and y > z was asked [+80 chars]"},
               {"title": "Prose &amp AT&T", "content": "If a<b and c>d, see ?id=5&section=news&times=3 &notaname; &eacute;"},
               {"title": "<b>Tags</b> &#8217;", "content": "<p title='5 > 3'>E=mc<sup>2</sup><p>Two.<hr>Three [+9 chars]"},
               {"title": "Lede", "description": "The council approved the plan on Monday. It will cost five "
                                                "million euros, officials said.",
                "content": "The council approved the plan on Monday. It will cost fi… [+2412 chars]"}]
    result = read_file(write(tmp_path / "newsapi.json", json.dumps({"status": "ok", "articles": records})))
    first, second, prose, tags, lede = result.articles
    assert first.title == "Port & harbour expand"
    assert first.body.split("\n\n") == ["The harbour adds two berths, the port said.", "It adds two berths & four cranes.",
                                        "Berth 7 opens in 2028", "The expansion is funded by a state lo…"]
    assert second.body == "Whether x < y and y > z was asked…"  # no tags: left as it is
    assert prose.body == "If a<b and c>d, see ?id=5&section=news&times=3 &notaname; é"  # only whole references
    assert (prose.title, tags.title) == ("Prose &amp AT&T", "Tags ’")  # titles by the same rule as texts
    assert tags.body.split("\n\n") == ["E=mc2", "Two.", "Three…"]  # opening tags alone, a ">" in a quoted value
    assert lede.body == records[4]["description"]  # the cut text is all in its description: said once
    assert len(result.warnings) == 1 and "cut short" in result.warnings[0]  # said once for the file


def test_jsonl_field_variants(tmp_path):
    lines = [
        {"title": "T1", "text": "Text field.", "published": "2023-01-02", "author": "Kim Park"},
        {"title": "T2", "body": "Body field.", "published_at": "2023-01-03T09:00:00+02:00", "authors": ["A", "B"]},
        {"title": "T3", "content": "Content field.", "date": "Jan 4, 2023", "source": "ap.org"},
        {"title": "T4", "text": "RSS date.", "published": "Thu, 05 Jan 2023 10:00:00 GMT"},
    ]
    result = read_file(write(tmp_path / "c.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n"))
    assert result.errors == []
    assert [a.body for a in result.articles] == ["Text field.", "Body field.", "Content field.", "RSS date."]
    assert [a.published for a in result.articles] == ["2023-01-02", "2023-01-03", "2023-01-04", "2023-01-05"]
    assert [a.authors for a in result.articles] == [["Kim Park"], ["A", "B"], [], []]
    assert result.articles[2].source == "ap.org"


def test_records_without_a_title_are_told_apart_by_their_opening_words(tmp_path):
    # Every untitled record of an export was titled with the file's name ("export"): ten source cards of one
    # title. Each is now titled by its text's opening words.
    lines = [{"text": "The council voted on Tuesday to close the Wexley bridge to lorries from March, after "
                      "engineers found cracks."},
             {"content": "Ferry fares rise by 4% in April."}]
    result = read_file(write(tmp_path / "export.jsonl", "\n".join(json.dumps(x) for x in lines)))
    assert [a.title for a in result.articles] == [
        "The council voted on Tuesday to close the Wexley bridge to lorries…", "Ferry fares rise by 4% in April."]


def test_jsonl_bad_lines_are_named_and_good_ones_kept(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"title": "Good", "text": "Fine."}\n'
                     b'{"title": "Broken", "text": \n'
                     b'{"title": "Empty", "text": "   "}\n'
                     b'["not", "an", "object"]\n'
                     b'{"title": "Latin-1", "text": "caf\xe9"}\n'
                     b'{"title": "Also good", "body": "Fine too."}\n')
    result = read_file(path)
    assert [a.title for a in result.articles] == ["Good", "Latin-1", "Also good"]
    assert result.articles[1].body == "café"  # not UTF-8: read as Windows-1252, and said
    assert result.warnings == ["line 5 is not UTF-8: read as Windows-1252"]
    assert [e.split(":")[0].split(" is")[0] for e in result.errors] == ["line 2", "line 3", "line 4"]
    # where on the line: json's own "Invalid control character at" stopped at "at"
    assert re.match(r"^line 2: invalid JSON at column \d+: Expecting value$", result.errors[0]), result.errors[0]
    control = write(tmp_path / "control.jsonl", '{"title": "Tab", "text": "a\tb"}\n{"title": "Ok", "text": "Fine."}\n')
    assert read_file(control).errors == ["line 1: invalid JSON at column 28: Invalid control character"]
    assert "no article text" in result.errors[1]
    assert "expected an object" in result.errors[2]


# ---------------------------------------------------------------- files that cannot be read

@pytest.mark.parametrize("name, content, reason", [
    ("empty.txt", b"", "empty"),
    ("blank.md", b"  \n\n \n", "empty"),
    ("binary.txt", b"PK\x03\x04\x00\x00\x00binary", "binary"),
    ("garbled.txt", b"Caf\x81 in Z\x8drich\n\nText.", "not valid UTF-8"),  # not Windows-1252 either
    ("bad.json", b'{"title": "x", "text": ', "invalid JSON"),
    ("none.json", b'{"status": "ok", "articles": []}', "no records"),
    ("blank.jsonl", b"\n\n", "no records"),
    ("photo.png", b"\x89PNG", "unsupported file type"),
])
def test_unreadable_files_say_why(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ArticleError, match=reason):
        read_file(path)


def test_file_over_the_size_limit(tmp_path):
    path = write(tmp_path / "big.txt", "word " * 50_000)
    with pytest.raises(ArticleError, match=r"^file is 0\.24 MB, over the 0\.1 MB limit"):  # (not "0 MB")
        read_file(path, max_file_mb=0.1)
    assert read_file(path, max_file_mb=1).articles  # the same file under a higher limit reads


def test_an_exports_dates_are_read_in_the_ways_news_apis_write_them_and_an_unreadable_one_is_said(tmp_path):
    # GDELT writes "20240301T120000Z", other APIs seconds since 1970: both were dropped without a word, and
    # the articles then escaped every date filter and the "this week" prior.
    rows = [{"title": f"Story {i}", "text": f"The Pelton story number {i}.", "published": published}
            for i, published in enumerate(["20240301", "20240301T120000Z", 1709251200, "1709251200000",
                                           "2024-03-01T09:00:00Z", "last Tuesday"])]
    path = write(tmp_path / "export.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    result = read_file(path)
    assert [a.published for a in result.articles] == ["2024-03-01"] * 5 + [""]
    assert result.warnings == ["line 6: 'last Tuesday' is not a date this app reads; the article is kept without a date"]
