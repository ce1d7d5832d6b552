"""Sentences of an article and their shapes (what may lead an answer), and how rare a word counts as."""

from __future__ import annotations

from rag.retrieval import _Snapshot
from rag.sentences import split
from rag.text import english_idf

BODY = """Bridge collapse in Baltimore

Rescuers searched the river on Tuesday. The first recall, issued on Dec. 11, according to the FDA, covered oats.

Gov. Wes Moore (left) and Mayor Brandon Scott speak to reporters near the site.

Photo by Jane Doe/Getty Images

Six workers died, officials said."""


def shapes(body: str) -> list[tuple[str, str]]:
    return [(s.shape, s.text) for s in split(body)]


def test_offsets_give_back_the_sentence():
    for span in split(BODY):
        assert BODY[span.start:span.end] == span.text


def test_abbreviations_do_not_end_a_sentence():
    texts = [s.text for s in split(BODY)]
    assert "The first recall, issued on Dec. 11, according to the FDA, covered oats." in texts


def test_headlines_captions_and_credits_are_told_from_sentences():
    found = dict((text, shape) for shape, text in shapes(BODY))
    assert found["Bridge collapse in Baltimore"] == "heading"
    assert found["Gov. Wes Moore (left) and Mayor Brandon Scott speak to reporters near the site."] == "caption"
    assert found["Photo by Jane Doe/Getty Images"] == "caption"
    assert found["Six workers died, officials said."] == "sentence"
    assert found["Rescuers searched the river on Tuesday."] == "sentence"


def test_boilerplate_lines_are_no_sentences_and_a_time_ends_one():
    # "Copyright 2026 The Associated Press." and "Photo caption: ..." were quoted as answers.
    body = ("Copyright 2026 The Associated Press. All rights reserved.\n\n"
            "Photo caption: Children read in the new Eastfield library on Monday.\n\n"
            "Polls are open from 7 a.m. to 8 p.m. Voters must bring a photo ID card. The count starts at 9 p.m. Tuesday "
            "in the town hall, and results come at 11 p.m. ET on the city's website.")
    found = dict((text, shape) for shape, text in shapes(body))
    assert found["Copyright 2026 The Associated Press."] == found["All rights reserved."] == "caption"
    assert found["Photo caption: Children read in the new Eastfield library on Monday."] == "caption"
    assert found["Polls are open from 7 a.m. to 8 p.m."] == found["Voters must bring a photo ID card."] == "sentence"
    assert ("The count starts at 9 p.m. Tuesday in the town hall, and results come at 11 p.m. ET on the city's "
            "website.") in found
    # (the review) a time zone, a place's time or a name after the time goes on with the sentence
    for sentence in ("The game starts at 7:30 p.m. AEST in Sydney, the league said.",
                     "The trade talks resume at 11 a.m. Brussels time, the spokesman said.",
                     "Counting ended after 11 p.m. Election Day night, officials said."):
        assert [s.text for s in split(sentence)] == [sentence]


def test_a_question_under_a_label_is_an_intertitle_and_a_quiz_question_is_not():
    # The seed's intertitle "Alexander Lukashenko: Will he drop Vladimir Putin if necessary?" ends with a
    # question mark, so it passed for a sentence and joined the tanks answer's first quote.
    body = ("The army relies on old tanks.\n\nAlexander Lukashenko: Will he drop Vladimir Putin if necessary?\n\n"
            "Question 3: Which series drew 1,000 complaints?\n\nNaked Education\n\n"
            "What will the government do about it now? Nobody knows, an adviser said.")
    found = dict((text, shape) for shape, text in shapes(body))
    assert found["Alexander Lukashenko: Will he drop Vladimir Putin if necessary?"] == "heading"
    assert found["Question 3: Which series drew 1,000 complaints?"] == "sentence"
    assert found["What will the government do about it now?"] == "sentence"


def test_a_rare_name_outweighs_a_common_word_in_english():
    assert english_idf("lukashenko") > english_idf("armi") > english_idf("said")


def test_in_a_store_of_a_few_chunks_word_rarity_comes_from_english():
    # Four chunks that all mention the subject: the store's own IDF would call "lukashenko" as common
    # as "said"; blended with English rarity the subject keeps its weight.
    snapshot = _Snapshot.of("x", None, ["a", "b", "c", "d"], [0] * 4, [""] * 4)
    tiny = _Snapshot(**{**snapshot.__dict__, "frequencies": {"lukashenko": 4, "said": 4, "armi": 2}})
    assert tiny.idf("lukashenko") > tiny.idf("armi") > tiny.idf("said")
    assert tiny.idf("lukashenko") > 5


def test_a_day_written_as_an_ordinal_does_not_end_a_sentence():
    body = ("Die neue Regel für alle Betriebe gilt ab dem 1. Januar 2023. Nach Monaten der Spannungen begann am 24. "
            "Februar der Krieg. "
            "Consumer prices rose 4% in 2023. March was calmer for the markets. The home team finished the league "
            "ranked 1. May the next season be kinder to its fans.")
    assert [s.text for s in split(body)] == [
        "Die neue Regel für alle Betriebe gilt ab dem 1. Januar 2023.",
        "Nach Monaten der Spannungen begann am 24. Februar der Krieg.",
        "Consumer prices rose 4% in 2023.", "March was calmer for the markets.",
        "The home team finished the league ranked 1.", "May the next season be kinder to its fans."]
