"""Quote verification: only quotes found word for word in the cited article are ever shown."""

from __future__ import annotations

from langchain_core.language_models import FakeListChatModel

from rag.citations import locate, verify
from rag.llm import LLMAnswerer, parse_quotes
from rag.models import Chunk, Query, RawCitation

BODY_A = "The mayor said “we will rebuild the bridge” on Monday.\n\nWork starts   in May."
BODY_B = "The river flooded three villages. Rescue teams arrived by boat."


def chunk(article_id, body):
    return Chunk(text=body, start=0, end=len(body), article_id=article_id, title=article_id)


RETRIEVED = [chunk("a", BODY_A), chunk("b", BODY_B)]
BODIES = {"a": BODY_A, "b": BODY_B}


def test_locate_exact_and_normalized():
    assert locate("Work starts", BODY_A) == (BODY_A.index("Work"), BODY_A.index("Work") + len("Work starts"))
    start, end = locate('"We will rebuild the bridge" on monday', BODY_A)
    assert BODY_A[start:end] == "we will rebuild the bridge” on Monday"
    start, end = locate("Work starts in May.", BODY_A)
    assert BODY_A[start:end] == "Work starts   in May"
    assert locate("the bridge collapsed", BODY_A) is None


def test_verified_quote_is_exactly_the_body_span():
    citations, dropped = verify([RawCitation(1, "Work starts in May")], RETRIEVED, BODIES)
    assert dropped == []
    c = citations[0]
    assert BODY_A[c.start:c.end] == c.quote and c.n == 1


def test_made_up_quote_is_dropped():
    citations, dropped = verify([RawCitation(1, "The mayor resigned")], RETRIEVED, BODIES)
    assert citations == [] and "not found" in dropped[0]


def test_wrong_citation_number_is_dropped():
    # The words are in article b, but the answer cites passage 1 (article a).
    citations, dropped = verify([RawCitation(1, "Rescue teams arrived by boat")], RETRIEVED, BODIES)
    assert citations == [] and len(dropped) == 1


def test_out_of_range_number_is_dropped():
    citations, dropped = verify([RawCitation(7, "Work starts in May")], RETRIEVED, BODIES)
    assert citations == [] and "no retrieved passage" in dropped[0]


def test_citations_are_renumbered_in_order():
    raw = [RawCitation(2, "Rescue teams arrived by boat"), RawCitation(5, "x y z"), RawCitation(1, "Work starts")]
    citations, dropped = verify(raw, RETRIEVED, BODIES)
    assert [(c.n, c.chunk.article_id) for c in citations] == [(1, "b"), (2, "a")]
    assert len(dropped) == 1


def test_parse_quotes_from_model_reply():
    reply = 'Here is what I found:\n"we will rebuild the bridge" [1]\n“Rescue teams arrived by boat” [2]\nno quote [3]'
    assert [(r.n, r.quote) for r in parse_quotes(reply)] == [(1, "we will rebuild the bridge"),
                                                            (2, "Rescue teams arrived by boat")]


def test_llm_answerer_parses_a_fake_models_reply():
    # A fake chat model stands in for a remote LLM API, which cannot run here.
    model = FakeListChatModel(responses=['"Work starts in May" [1]\n"The mayor resigned" [2]\n"boat" [9]'])
    proposal = LLMAnswerer(model).propose(Query("When does work start?", [], []), RETRIEVED)
    citations, dropped = verify(proposal.quotes, RETRIEVED, BODIES)
    assert [c.quote for c in citations] == ["Work starts   in May"]
    assert len(dropped) == 2
