"""Property-based tests of the article readers: whatever bytes a file holds, it is read or reported
by name with a reason, never a traceback; and a sync with such files loses nothing stored before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from rag.articles import SUPPORTED_SUFFIXES, ArticleError, read_file

SUFFIXES = sorted(SUPPORTED_SUFFIXES)
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)
encoded = st.one_of(
    st.binary(max_size=600),
    texts.map(lambda t: t.encode("utf-8")),
    texts.map(lambda t: t.encode("utf-16")),  # with a byte-order mark
    texts.map(lambda t: t.encode("cp1252", errors="ignore")),
    texts.map(lambda t: ("\x00" * 3 + t).encode()),
)
dates = st.one_of(st.sampled_from(["2023-02-30", "2023-00-00", "2023-13-01", "0000-00-00", "9999-99-99",
                                   "yesterday", "", "2023-02-28T25:99:00Z", "Tue, 31 Feb 2023 10:00:00 GMT"]),
                  st.text(max_size=20))
records = st.fixed_dictionaries({"title": st.text(max_size=40), "text": texts},
                                optional={"id": st.one_of(st.integers(), st.text(max_size=8), st.none()),
                                          "published": dates, "url": st.text(max_size=30),
                                          "authors": st.one_of(st.lists(st.text(max_size=10), max_size=3),
                                                               st.text(max_size=20), st.integers())})
json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
                           lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5),
                                                                                            children, max_size=3),
                           max_leaves=10)


def read_or_reason(path: Path):
    """The articles read, or the ArticleError's reason: any other exception fails the test."""
    try:
        return read_file(path)
    except ArticleError as e:
        assert str(e), path
        return None


def check(result) -> None:
    if result is None:
        return
    for article in result.articles:
        assert article.body.strip() and "\x00" not in article.body
        assert article.published == "" or len(article.published) == 10
    assert all(isinstance(e, str) and e for e in result.errors + result.warnings)


@FAST
@given(data=encoded, suffix=st.sampled_from(SUFFIXES))
def test_any_bytes_are_read_or_reported(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("any") / f"article{suffix}"
    path.write_bytes(data)
    check(read_or_reason(path))


@FAST
@given(rows=st.lists(st.one_of(records, json_values), min_size=1, max_size=5), as_lines=st.booleans())
def test_any_json_records_are_read_or_reported(tmp_path_factory, rows, as_lines):
    folder = tmp_path_factory.mktemp("json")
    path = folder / ("feed.jsonl" if as_lines else "feed.json")
    path.write_text("\n".join(json.dumps(r) for r in rows) if as_lines else json.dumps(rows))
    result = read_or_reason(path)
    check(result)
    if result is not None:
        assert len(result.articles) + len(result.errors) == sum(1 for _ in rows) or not as_lines


@FAST
@given(date=dates)
def test_impossible_dates_keep_the_article_without_a_date(tmp_path_factory, date):
    path = tmp_path_factory.mktemp("dates") / "feed.jsonl"
    path.write_text(json.dumps({"title": "Port strike ends", "text": "Dockers returned to work.", "published": date}))
    result = read_file(path)
    assert len(result.articles) == 1
    article = result.articles[0]
    if date.strip() and not article.published and date[:4].isdigit() and date[4:5] == "-":
        assert any("kept without a date" in w for w in result.warnings)


@pytest.mark.parametrize("name, content", [
    ("nested.html", "<div>" * 5000 + "<p>Deep inside the page, the council voted.</p>" + "</div>" * 5000),
    ("oneline.txt", "Title\n\n" + "word " * 400_000),
    ("string.json", json.dumps("just a string")),
    ("number.jsonl", "42\n"),
])
def test_odd_shapes_are_read_or_reported(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    check(read_or_reason(path))
