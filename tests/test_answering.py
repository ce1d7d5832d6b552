"""Answers on the seed article: quotes with citations, refusals, follow-ups, a model that invents quotes."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from langchain_core.language_models import FakeListChatModel

from rag.answering import (SMALL_STORE_CHUNKS, ExtractiveAnswerer, choose_quotes, compose, gives_words_of,
                           introduces, named_outlet, names_missing_from, naming_articles, nearest_spellings,
                           other_words, quote_spans, quotes_on_subject, quotes_speaker, standalone_query, unmatched_numbers,
                           speaks_of, unmentioned_names, words_asked)
from rag.cli import main
from rag.dates import reported_day
from rag.llm import LLMAnswerer
from rag.models import Candidate, Chunk, Citation, Filters, Ranking, Span
from rag import ranker
from rag.ranker import (HANDSET_FILE, TRAINED_PASSAGES, QuestionView, RankerWeights, coverage, lead_reading,
                        question_view)
from rag.sentences import split
from rag.text import spelled_out, terms

from news_fixtures import BRIDGE, write_corpus

SOLDIERS = "What did Lukashenko say about sending soldiers?"


def assert_quotes_verbatim(chat, answer):
    for c in answer.citations:
        assert chat.article(c.chunk.article_id).body[c.start:c.end] == c.quote


def test_answer_is_quotes_with_numbered_citations(seeded_chat):
    answer = seeded_chat.ask(SOLDIERS)
    assert not answer.refused
    assert "[1]" in answer.text
    assert "send soldiers" in answer.citations[0].quote
    assert "35,000 to 40,000 men" in answer.text  # ("According to him, ...", his words before the lead)
    assert answer.citations[0].chunk.source == "merkur"
    assert_quotes_verbatim(seeded_chat, answer)
    for c in answer.citations:
        assert f"[{c.n}]" in answer.text and " ".join(c.quote.split()) in answer.text


def test_question_the_articles_do_not_cover_is_refused(seeded_chat):
    for question in ("Who won the 2018 football World Cup?", "What is the recipe for banana bread?"):
        answer = seeded_chat.ask(question)
        assert answer.refused, question
        assert "do not answer" in answer.text and answer.citations == []
        assert "widen" in answer.text


def test_a_refusal_for_finding_nothing_says_what_to_change(seeded_chat, chat):
    # Nothing found said "try widening the date or outlet filters" to someone who had set none, or whose
    # store was empty.
    outlet = seeded_chat.ask(SOLDIERS, filters=Filters(source="nowhere.example", as_of="2026-01-01"))
    assert outlet.refused and "Try widening the date or outlet filters" in outlet.text
    early = seeded_chat.ask(SOLDIERS, filters=Filters(as_of="2001-01-01"))
    assert early.refused and "later “as of” date" in early.text and "widening" not in early.text
    empty = chat.ask(SOLDIERS)
    assert empty.refused and empty.text.startswith("No articles are indexed yet")


def test_every_quote_reads_as_a_quotation():
    # A sentence that ended with a quotation of its own was shown bare, as if it were the app's words.
    chunk = Chunk(text="", start=0, end=0, article_id="a")
    quotes = ['Peskov\'s statement is classified by the ISW as an attempt to "cover up Putin\'s failure."',
              '"We don\'t interfere," Lukashenko said at the time.', '"We don\'t send soldiers there."',
              "Belarus supports Russia."]
    text = compose([Citation(n, q, 0, len(q), chunk) for n, q in enumerate(quotes, 1)])
    assert text.split("\n\n") == [f"“{quotes[0]}” [1]", f"{quotes[1]} [2]", f"{quotes[2]} [3]", f"“{quotes[3]}” [4]"]


def test_follow_up_keeps_the_topic_of_the_conversation():
    query = standalone_query("and what did Peskov say?", [(SOLDIERS, "...")])
    assert "Peskov" in query.text and "Lukashenko" in query.text
    assert standalone_query("Who is Gustav Gressel?", [(SOLDIERS, "...")]).text == "Who is Gustav Gressel?"
    # a short question about a subject of its own is no follow-up: it was searched with the football final
    world_cup = [("Who won the 2022 football World Cup final?", "The articles do not answer this.")]
    assert standalone_query("What is the price of potash?", world_cup).text == "What is the price of potash?"
    for follow_up in ("How big is the army?", "Who won in 2019?", "How many casulaties?"):  # (a number or a typo
        assert "Lukashenko" in standalone_query(follow_up, [(SOLDIERS, "...")]).text  # is no subject of its own)


def test_follow_up_answer_quotes_the_new_subject(seeded_chat):
    first = seeded_chat.ask(SOLDIERS)
    answer = seeded_chat.ask("and what did Peskov say?", history=[(SOLDIERS, first.text)])
    assert not answer.refused
    assert "Peskov" in answer.citations[0].quote
    assert_quotes_verbatim(seeded_chat, answer)
    # the earlier question it borrowed from, which its link asks first (rag/web/turns.py), and none for a
    # question that names its own subject after it, or one with no words at all
    assert answer.followed == [SOLDIERS] and first.followed == []
    assert seeded_chat.ask("What did Zelensky say about the talks?", history=[(SOLDIERS, first.text)]).followed == []
    assert seeded_chat.ask("???", history=[(SOLDIERS, first.text)]).followed == []


def test_filters_that_exclude_everything_lead_to_a_refusal_naming_them(seeded_chat):
    answer = seeded_chat.ask(SOLDIERS, filters=Filters(since="2023-01-01"))
    assert answer.refused and "2023-01-01" in answer.text


def test_invented_quotes_from_a_model_are_never_shown(seeded_chat):
    # A fake chat model stands in for a remote LLM, which cannot run here; everything else is real.
    reply = ('"We don\'t interfere, we don\'t kill anyone" [1]\n'
             '"Lukashenko promised to send 10,000 soldiers" [1]\n"Peskov resigned" [42]')
    seeded_chat.answerer = LLMAnswerer(FakeListChatModel(responses=[reply]), name="fake")
    answer = seeded_chat.ask(SOLDIERS)
    assert [c.quote for c in answer.citations] == ["We don't interfere, we don't kill anyone"]
    assert "10,000" not in answer.text and "resigned" not in answer.text
    assert len(answer.dropped) == 2 and "left out" in answer.text
    assert_quotes_verbatim(seeded_chat, answer)


def test_of_two_passages_saying_the_same_the_quote_comes_from_this_weeks_article(chat):
    said = "Damar Hamlin was cleared to return to practice with the Buffalo Bills on Tuesday."
    older = Chunk(text=said, start=0, end=len(said), article_id="older", published="2022-04-20")
    recent = Chunk(text=said, start=0, end=len(said), article_id="recent", published="2023-04-20")
    question = "Who was cleared to return to practice this week?"
    proposal = ExtractiveAnswerer(chat.embeddings).propose(
        standalone_query(question, [], as_of="2023-04-21"), [older, recent], {"older": said, "recent": said})
    assert [q.n for q in proposal.quotes + proposal.related] == [2]  # the copy from a year earlier is not quoted


def test_on_a_small_store_a_quote_from_another_story_must_speak_of_the_question(chat):
    # (an answers tester) In a folder of mixed news, another story naming the same town was quoted beside the
    # answer: "Who won the Ashby mayoral election?" also quoted the girls' basketball final.
    vote = ("Ashby voters chose a new mayor on Tuesday. Ruth Calder won the mayoral election with 54% of the "
            "vote, the county clerk said.")
    hoops = "Ashby High beat Westfield 58-49 in the state girls basketball final on Saturday, its first title."
    chunks = [Chunk(vote, 0, len(vote), "vote", title="Calder elected Ashby mayor", published="2026-11-04"),
              Chunk(hoops, 0, len(hoops), "hoops", title="Ashby High wins state title", published="2026-11-02")]
    handset = RankerWeights.load("handset")
    answerer = ExtractiveAnswerer(chat.embeddings, handset, small_store_weights=handset)
    query = standalone_query("Who won the Ashby mayoral election?", [], as_of="2026-11-05")
    small = answerer.propose(query, chunks, {"vote": vote, "hoops": hoops}, store_chunks=12)
    assert [q.n for q in small.quotes] and all(q.n == 1 for q in small.quotes), small.quotes
    # a large store keeps such quotes: on s150 two of them named the gold in passing (docs/BENCHMARKS.md)
    large = answerer.propose(query, chunks, {"vote": vote, "hoops": hoops}, store_chunks=None)
    assert any(q.n == 2 for q in large.quotes), large.quotes


def test_scripts_are_told_apart_by_their_letters():
    from rag.text import main_script, script_hint, written_in

    assert main_script("Что сказал Лукашенко о NATO?") == "Cyrillic" and main_script("Lukashenko, 2023") == "Latin"
    assert main_script("2023 ... ?") is None and main_script("北京の天気") == "Chinese/Japanese"
    assert written_in("The president said on Monday that the talks were over.") == ("Latin", "English")
    assert written_in("Der Präsident sagte am Montag, die Gespräche seien beendet.") == ("Latin", "")
    english = ("Latin", "English")
    assert script_hint("Что сказал Песков?", english) == "The articles appear to be in English; ask in English."
    assert script_hint("What did Peskov say?", english) == "" and script_hint("2023?", english) == ""
    assert script_hint("What did Peskov say?", ("Cyrillic", "")) == (
        "The articles appear to be written in the Cyrillic script; ask in their language.")
    assert script_hint("Что сказал Песков?", (None, "")) == ""  # an empty store: nothing to compare


def test_a_question_in_another_script_is_told_the_language_of_the_articles(seeded_chat):
    hint = "The articles appear to be in English; ask in English."
    for question in ("Что сказал Песков?", "Что Лукашенко сказал об отправке солдат?"):
        answer = seeded_chat.ask(question)
        assert answer.refused and answer.text.endswith(hint), answer.text
    english = seeded_chat.ask("Who won the 2018 football World Cup?")
    assert english.refused and "appear to be" not in english.text
    assert "appear to be" not in seeded_chat.ask(SOLDIERS).text


def test_the_answer_leads_with_the_sentence_that_answers(seeded_chat):
    # The seed's intertitle "Alexander Lukashenko: Belarusian army probably too weak for Ukraine
    # invasion" shares most words with the question; the sentence with the number must lead.
    answer = seeded_chat.ask("How big is the Belarusian army, according to Lukashenko?")
    assert not answer.refused
    assert "35,000 to 40,000 men" in answer.citations[0].quote
    assert_quotes_verbatim(seeded_chat, answer)


def test_the_first_sentence_a_reader_sees_is_the_one_that_answers(seeded_chat):
    # The hand-set rule (small stores) quoted the lead with the sentences on both sides, so these answers
    # opened with the sentence before the answer ("Thus, the device of the Belarusian army is considered
    # completely outdated." before the tanks); now the lead opens its quote.
    for question, answering in (("What tanks does the Belarusian army rely on?", "T-72 tanks"),
                                ("What did Kremlin spokesman Peskov say?", "Peskov emphasized"),
                                ("When did Lukashenko reaffirm Belarusian independence?", "on December 16"),
                                ("Where was the ODKB summit held?", "summit in Yerevan")):
        answer = seeded_chat.ask(question)
        assert not answer.refused, question
        first = split(answer.citations[0].quote)[0].text
        assert answering in first, (question, first)
        assert "Will he drop Vladimir Putin" not in answer.citations[0].quote, question  # an intertitle that asks
        assert_quotes_verbatim(seeded_chat, answer)


def test_the_sentence_before_the_lead_follows_it_as_a_quote_of_its_own():
    # "around": the sentence before the lead holds the answer when the lead goes on from it; it is quoted,
    # after the lead's quote, and takes none of the other quotes' places.
    body = "Officials named Geneva as the venue. It was chosen in May. The talks ended on Friday. Both sides left."
    texts = ("Officials named Geneva as the venue.", "It was chosen in May.", "The talks ended on Friday.",
             "Both sides left.")
    spans = [Span(t, body.index(t), body.index(t) + len(t), True, "sentence") for t in texts]
    chunk = Chunk(body, 0, len(body), "a")
    before, lead, after, other = (Candidate(span, 1, chunk, i) for i, span in enumerate(spans))
    lead.previous, lead.following = spans[0], spans[2]
    ranking = Ranking([lead, before, other], [0.5, 0.4, 0.3], 0.9)
    chosen = choose_quotes(ranking, max_quotes=2, relative=0.2, context="around")
    quoted = [text for _, _, text in quote_spans(chosen, "around", {"a": body})]
    assert quoted == ["It was chosen in May. The talks ended on Friday.", "Officials named Geneva as the venue.",
                      "Both sides left."]


def test_related_reading_after_a_refusal_is_the_best_sentences_not_the_one_before_the_lead(seeded_chat):
    weights = RankerWeights.load("handset")  # "around": an answer would quote the sentence before the lead
    weights.threshold = 1.01  # nothing reaches it: every question is refused, with related reading
    seeded_chat.answerer = ExtractiveAnswerer(seeded_chat.embeddings, weights, small_store_weights=weights)
    answer = seeded_chat.ask("What tanks does the Belarusian army rely on?")
    assert answer.refused and len(answer.related) >= 2
    assert answer.related[0].quote.startswith("Lukashenko's troops rely largely on old Soviet T-72 tanks")
    assert not any("Thus, the device of the Belarusian army" in r.quote for r in answer.related)


def test_a_line_after_the_lead_joins_it_only_when_it_answers_a_question():
    # Over the whole year, 15 of 538 first quotes ended with a line like "___", "More: ..." or "Here's
    # why:" after the lead; on a quiz page the line under a question is its answer.
    def quoted(lead_text: str, line: str) -> list[str]:
        body = f"{lead_text}\n\n{line}"
        lead = Candidate(Span(lead_text, 0, len(lead_text), True, "sentence"), 1, Chunk(body, 0, len(body), "a"), 0)
        lead.following = Span(line, body.index(line), len(body), True, "heading")
        return [text for _, _, text in quote_spans([lead], "after", {"a": body})]

    assert quoted("James passed Abdul-Jabbar on Tuesday.", "___") == ["James passed Abdul-Jabbar on Tuesday."]
    assert quoted("Which new series drew 1,000 complaints?", "Naked Education") == [
        "Which new series drew 1,000 complaints?\n\nNaked Education"]


def test_a_weights_file_with_an_unknown_quote_context_is_refused_by_name(tmp_path):
    path = tmp_path / "weights.json"
    data = json.loads(resources.files("rag.data").joinpath(HANDSET_FILE).read_text(encoding="utf-8"))
    path.write_text(json.dumps(data | {"context": "both"}))
    with pytest.raises(ValueError, match="weights.json: context must be one of none, after, around, not 'both'"):
        RankerWeights.load(str(path))


def test_asked_which_country_the_answer_leads_with_the_sentence_that_names_one(chat):
    # "Which country ...?" asks for one of a list of names (rag/data/answer_kinds.json). Of two sentences
    # alike but for the name, the weights before the kind feature led with the first (a city or a US state),
    # and so did the hand-set rule (small stores) with one of the two pairs.
    question = standalone_query("The US and which other country this week launched their largest joint military "
                                "drills in decades?", [])
    for weights in ("learned", "handset"):
        ranker = ExtractiveAnswerer(chat.embeddings, RankerWeights.load(weights)).ranker_for(None)
        for other, country in (("Manila", "Japan"), ("Hawaii", "Australia")):
            text = "\n\n".join(f"Troops from {name} joined the drills on Tuesday." for name in (other, country))
            passage = Chunk(text, 0, len(text), "d", title="Drills")
            ranking = ranker.rank(question_view(question, None), [passage], {"d": text})
            lead = choose_quotes(ranking, max_quotes=1, relative=0.0)[0]  # the sentence the answer leads with
            assert lead.span.text.startswith(f"Troops from {country}"), (weights, lead.span.text)


def test_a_name_the_question_already_gives_is_not_an_answer_whatever_it_is_called():
    view = QuestionView("The US and which other country launched drills in the South China Sea?", [], [], "", None)
    assert view.names_new_of_kind("Troops from the Philippines joined them.")
    assert not view.names_new_of_kind("The United States and the U.S. Navy began them near China.")
    assert QuestionView("Which state passed the bill?", [], [], "", None).names_new_of_kind("It passed in New Mexico.")
    assert not QuestionView("Who passed the bill?", [], [], "", None).names_new_of_kind("It passed in New Mexico.")


def test_the_answerability_model_judges_the_sentence_that_leads_the_answer():
    # The reader's score that the refusal model reads ("lead_reader") is the score of the sentence the
    # answer opens with: a headline ranked above it, however well the reader scores it, is not that lead.
    def candidate(text, shape):
        return Candidate(Span(text, 0, len(text), True, shape), 1, Chunk(text, 0, len(text), "a"), 0)

    ranked = [candidate("Belarusian army too weak", "heading"), candidate("The army has 40,000 men.", "sentence")]
    lead = choose_quotes(Ranking(ranked, [0.9, 0.6], 1.0), max_quotes=1, relative=0.5)[0]
    assert lead is ranked[1]
    assert lead_reading(ranked, [5.0, 1.5]) == 1.5


def test_the_sentence_after_the_lead_does_not_take_another_quotes_place():
    # The lead is quoted with the sentence after it; when that sentence also ranks second, it is already
    # shown, and the next sentence (here the one naming the answer) gets the second place instead.
    body = "The talks ended on Friday. Both sides met in the capital. Officials named Geneva as the venue."
    spans = [Span(t, body.index(t), body.index(t) + len(t), True, "sentence") for t in
             ("The talks ended on Friday.", "Both sides met in the capital.", "Officials named Geneva as the venue.")]
    chunk = Chunk(body, 0, len(body), "a")
    lead, after, other = (Candidate(span, 1, chunk, i) for i, span in enumerate(spans))
    lead.following, after.previous = spans[1], spans[0]
    ranking = Ranking([lead, after, other], [0.5, 0.4, 0.3], 0.9)
    chosen = choose_quotes(ranking, max_quotes=2, relative=0.2, context="after")
    quoted = [text for _, _, text in quote_spans(chosen, "after", {"a": body})]
    assert quoted == ["The talks ended on Friday. Both sides met in the capital.", "Officials named Geneva as the venue."]


def test_a_sentence_about_another_place_is_no_newer_copy_of_the_lead():
    # Of copies of one quote the newest is shown. Templated news ("The water plant in Corva ...", "The
    # water plant in Dunmere ...") shares most words: the lead about Corva was swapped for Dunmere's
    # newer sentence, and the answer gave Dunmere's cost for Corva's.
    def candidate(text: str, article: str, published: str) -> Candidate:
        return Candidate(Span(text, 0, len(text), True, "sentence"), 1,
                         Chunk(text, 0, len(text), article, published=published), 0, terms(text))

    corva = candidate("The new water plant in Corva cost 48 million euros, the utility said.", "c", "2024-05-01")
    dunmere = candidate("The new water plant in Dunmere cost 55 million euros, the utility said.", "d", "2024-05-04")
    copy = candidate("The new water plant in Corva cost 48 million euros, the utility said.", "e", "2024-05-02")
    chosen = choose_quotes(Ranking([corva, dunmere, copy], [0.9, 0.8, 0.7], 1.0), max_quotes=3, relative=0.1)
    assert chosen == [copy]  # the newer copy of the lead in its place; Dunmere's sentence not in its place
    corva = candidate("Corva's new water plant cost 48 million euros, the utility said.", "c", "2024-05-01")
    dunmere = candidate("Dunmere's new water plant cost 55 million euros, the utility said.", "d", "2024-05-04")
    assert choose_quotes(Ranking([corva, dunmere], [0.9, 0.8], 1.0), max_quotes=3, relative=0.1) == [corva]


def test_a_quote_that_repeats_part_of_another_is_left_out(seeded_chat):
    # The seed repeats "We don't interfere, we don't kill anyone, we don't send soldiers there" as a pull quote.
    answer = seeded_chat.ask(SOLDIERS)
    assert sum("we don't kill anyone" in c.quote for c in answer.citations) == 1


def test_an_answer_is_not_padded_with_sentences_that_only_share_a_word(chat, tmp_path):
    # After a question about the bridge, "and how many workers died?" is answered from the bridge article;
    # the gun violence and Covid sentences that merely share "died" or "workers" are not quoted as answers.
    # Three articles are answered by the hand-set rule, which padded this answer until its scores were
    # calibrated (bench/train_ranker.py --calibrate-handset). The learned weights (used from
    # SMALL_STORE_CHUNKS chunks up) rank the Covid sentence at half the lead's probability on this tiny
    # store and would quote it: a gap recorded in docs/BENCHMARKS.md, not a behaviour the app has here.
    report = chat.ingest([write_corpus(tmp_path, BRIDGE)])
    assert report.added == 3 and not report.failed
    chat.answerer = ExtractiveAnswerer(chat.embeddings, RankerWeights.load("learned"),
                                       small_store_weights=RankerWeights.load("handset"))
    first = "What happened to the Key Bridge in Baltimore?"
    as_of = Filters(as_of="2024-03-28")
    opening = chat.ask(first, filters=as_of)
    answer = chat.ask("And how many workers died?", history=[(first, opening.text)], filters=as_of)
    assert not answer.refused, answer.text
    assert "Six construction workers" in answer.citations[0].quote
    assert {chat.article(c.chunk.article_id).title for c in answer.citations} == {BRIDGE[0]["title"]}, answer.text
    assert_quotes_verbatim(chat, answer)


def test_a_table_row_of_a_markdown_article_can_answer(chat, tmp_path):
    # "How many votes did Carla Mendes get?" was answered with the council budget's votes: the results
    # table's row "Carla Mendes | Green | 10,122 | 14.7%" read as a heading (no full stop), never quoted.
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "results.md").write_text(
        "---\ntitle: Finch re-elected mayor of Brenford\ndate: 2024-05-04\nsource: brenfordherald\n---\n\n"
        "Robert Finch was re-elected mayor of Brenford on Friday with a clear lead over his rivals.\n\n"
        "| Candidate | Party | Votes | Share |\n|---|---|---:|---:|\n| Robert Finch | Labour | 30,001 | 43.5% |\n"
        "| Ana Ruiz | Conservative | 21,340 | 31.0% |\n| Carla Mendes | Green | 10,122 | 14.7% |\n\n"
        "Turnout was 38 percent, the council said.\n")
    (folder / "budget.md").write_text(
        "---\ntitle: Council passes budget\ndate: 2024-05-02\nsource: brenfordherald\n---\n\n"
        "The Brenford council passed its budget by 31 votes to 12 on Thursday evening.\n\n"
        "Councillor Carla Mendes voted against it, saying the cuts to bus routes went too far.\n")
    assert chat.ingest([folder]).added == 2
    answer = chat.ask("How many votes did Carla Mendes get in the mayoral election?", filters=Filters(as_of="2024-05-10"))
    assert not answer.refused and "Votes: 10,122" in answer.citations[0].quote, answer.text
    assert_quotes_verbatim(chat, answer)


@pytest.mark.parametrize("name, page", [
    ("budget.md", "---\ntitle: Brenford council passes budget\ndate: 2024-03-06\n---\n\n{lead}\n\nKey points:\n\n"
                  "- Property tax rises by 4.5% from April\n- Two new libraries open in Eastfield\n  and Marsh Lane\n\n"
                  "{close}\n"),
    ("budget.html", "<html><head><title>Brenford council passes budget</title>"
                    "<meta property='article:published_time' content='2024-03-06'></head><body><article>"
                    "<p>{lead}</p><p>Key points:</p><ul><li>Property tax rises by 4.5% from April</li>"
                    "<li>Two new libraries open in Eastfield and Marsh Lane</li></ul><p>{close}</p></article></body></html>"),
])
def test_a_list_item_without_a_full_stop_can_answer(chat, tmp_path, name, page):
    # "How much will property tax rise?" was answered with the council's vote: the item "Property tax rises
    # by 4.5% from April" had no full stop, so it read as a heading, and answers never quote headings.
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / name).write_text(page.format(
        lead="The Brenford council passed its budget for the coming year by 31 votes to 12 on Tuesday.",
        close="The mayor said the property tax plan was fair and would be reviewed next year."))
    assert chat.ingest([folder]).added == 1
    answer = chat.ask("How much will property tax rise in Brenford?", filters=Filters(as_of="2024-03-10"))
    assert not answer.refused and answer.citations[0].quote.startswith("Property tax rises by 4.5% from April."), \
        answer.text
    assert_quotes_verbatim(chat, answer)


def test_a_question_for_someones_words_is_answered_with_them(chat, tmp_path):
    # "What did Tom Becker say?" was refused (18%), with his sentence first in the related reading: a
    # question of a few words scores low whatever it finds.
    records = [{"id": "storm", "title": "Storm floods Harbor streets", "published": "2024-09-12", "source": "harbordaily",
                "text": "Heavy rain flooded the lower town of Harbor overnight and closed the coast road.\n\n"
                        "Fire chief Tom Becker said crews rescued 37 people from flooded streets.\n\n"
                        "The council will meet on Friday to discuss the repairs to the sea wall."},
               {"id": "budget", "title": "Harbor council passes budget", "published": "2024-09-10", "source": "harbordaily",
                "text": "The Harbor council passed a budget of 96 million dollars on Tuesday.\n\n"
                        "Mayor Ana Whitfield said the plan protects bus routes and the library."}]
    assert chat.ingest([write_corpus(tmp_path, records)]).added == 2
    as_of = Filters(as_of="2024-09-20")
    # (what he is asked about may be in the sentence or in its passage: a tester's "about the storm" was refused)
    for question in ("What did Tom Becker say?", "What did the fire chief say about the flooded streets?",
                     "What did the fire chief say about the storm?",
                     "Who is Tom Becker?"):  # (and who someone is: the sentence that names them)
        answer = chat.ask(question, filters=as_of)
        assert not answer.refused and "Tom Becker said crews rescued 37 people" in answer.citations[0].quote, \
            (question, answer.text)
        assert_quotes_verbatim(chat, answer)
    # not someone else's words, nor his words about something the sentence does not name
    lead = chat.ask("What did Tom Becker say?", filters=as_of).citations[0]
    candidate = Candidate(span=Span(lead.quote.split(" The council")[0], 0, 0, True), passage=1, chunk=lead.chunk, index=0)
    assert quotes_speaker(words_asked("What did Tom Becker say?"), candidate)
    assert not quotes_speaker(words_asked("What did Ana Whitfield say?"), candidate)
    assert not quotes_speaker(words_asked("What did Tom Becker say about the budget?"), candidate)
    assert introduces("Who is Tom Becker?", candidate) and not introduces("Who is the fire chief?", candidate)
    assert not introduces("Who was Fire?", candidate)  # one common word is no name (the review: "Who was Mayor?")


def test_a_follow_up_for_someones_words_quotes_only_theirs(chat, tmp_path):
    # "and what did Tom Baker say?" after a question on the mayor quoted Baker, then the mayor twice (a tester)
    records = [{"id": "lanes", "title": "Council approves bicycle lanes on Harbor Street", "published": "2024-03-04",
                "source": "harborgazette", "text": "The city council voted 7 to 2 on Monday to approve bicycle lanes "
                "along Harbor Street. Mayor Elena Ruiz said the lanes would be finished by September. Councillor Tom "
                "Baker, who voted against the plan, said the money should go to fixing potholes instead."},
               {"id": "budget", "title": "Mayor Ruiz defends bike lane budget", "published": "2024-03-05",
                "source": "valleytimes", "text": "Mayor Elena Ruiz on Tuesday defended the 4.2 million dollar budget "
                "for the Harbor Street bicycle lanes. Ruiz also announced a new garage on Pier Road to replace the lost "
                "parking. Critics, including Councillor Tom Baker, said the grant had not yet been confirmed."}]
    assert chat.ingest([write_corpus(tmp_path, records)]).added == 2
    first = "What did Mayor Ruiz say about the bike lanes?"
    answer = chat.ask("and what did Tom Baker say?", history=[(first, chat.ask(first).text)])
    assert not answer.refused and answer.citations
    assert all("Baker" in c.quote for c in answer.citations), answer.text
    assert "fixing potholes" in answer.text  # (his verb seven words on: his words all the same)
    assert_quotes_verbatim(chat, answer)


def test_words_given_with_a_pronoun_beside_the_speakers_name_are_theirs():
    # (the seed) "Alexander Lukashenko: Belarusian army probably too weak ..." then "According to him, the
    # Belarusian army, which has 35,000 to 40,000 men, ..." is his answer too
    said = "According to him, the army, which has 35,000 men, will not solve the problem."
    assert gives_words_of(words_asked("What did Lukashenko say?"), said, "Alexander Lukashenko: army too weak")
    assert not gives_words_of(words_asked("What did Lukashenko say?"), said, "Putin spoke on Tuesday.")
    assert not gives_words_of(words_asked("What did Lukashenko say?"), "The army has 35,000 men.",
                              "Lukashenko spoke.")
    # (the review) news names someone by their last name after the first mention
    assert gives_words_of(words_asked("and what did Tom Baker say?"), "Baker added that the lanes were a mistake.")
    assert not gives_words_of(words_asked("and what did Tom Baker say?"), "Tom Ruiz added that the lanes were fine.")


@pytest.mark.parametrize("question, sentence, speaks", [
    ("What did Tom Becker say?", "“We rescued 37 people,” said Tom Becker.", True),
    ("What did Peskov say?", "Kremlin spokesman Dmitry Peskov told reporters: “We don't interfere.”", True),
    # (the review) someone named beside a speech verb that is not theirs is not them speaking
    ("What did Tom Becker say?", "Tom Becker did not respond to requests for comment, the paper said.", False),
    ("What did the mayor say about the flood?", "Residents said the mayor ignored warnings about the flood.", False),
    ("What did Trump say about Biden?", "Biden said Trump was unfit for office.", False),
    ("What did the police say about the suspect?", "The suspect told police he acted alone.", False),
])
def test_whose_words_a_sentence_gives(question, sentence, speaks):
    lead = Candidate(span=Span(sentence, 0, len(sentence), True), passage=1, chunk=None, index=0)
    assert quotes_speaker(words_asked(question), lead) is speaks


def test_what_someone_is_asked_about_is_looked_for_beside_their_words_not_anywhere_in_the_passage():
    # (the review) "What did Biden say about Trump?" took Biden's words on the economy because the passage
    # named Trump three sentences on
    said, later = "Biden said the economy was strong.", "Markets rose. Jobs grew. Trump spoke in Ohio later."
    chunk = Chunk(f"{said} {later}", 0, len(said) + 1 + len(later), "a", title="Biden speaks in Detroit")
    lead = Candidate(span=Span(said, 0, len(said), True), passage=1, chunk=chunk, index=0,
                     following=Span("Markets rose.", len(said) + 1, len(said) + 14, True))
    assert not quotes_speaker(words_asked("What did Biden say about Trump?"), lead)
    assert quotes_speaker(words_asked("What did Biden say about Detroit?"), lead)  # the headline names it
    assert quotes_speaker(words_asked("What did Biden say about the markets?"), lead)  # the sentence after it does


def test_two_versions_of_a_story_are_not_quoted_twice(chat, tmp_path):
    # An older copy of an article uploaded beside its update (zoo.md, zoo-2.md): the answer quoted the
    # director's sentence after its lead, then the same sentence again from the other file, as [1] and [2].
    folder = tmp_path / "news"
    folder.mkdir()
    story = ("---\ntitle: Harbor zoo welcomes twin snow leopard cubs\ndate: 2024-10-03\nsource: Harbor Daily\n---\n\n"
             "{update}The Harbor zoo announced on Thursday that its snow leopard Irbis gave birth to twin cubs.\n\n"
             "Zoo director Petra Lindqvist said the cubs were healthy and would be shown to visitors in December.\n\n"
             "The zoo has asked the public to suggest names for the cubs.\n")
    (folder / "zoo.md").write_text(story.format(update=""))
    (folder / "zoo-2.md").write_text(story.format(
        update="Update, October 4: The zoo corrected the cubs' birth date, which was earlier reported as Wednesday. "
               "Visitors lined up outside the enclosure all morning.\n\n"))
    assert chat.ingest([folder]).added == 2
    answer = chat.ask("What did the zoo director say about the snow leopard cubs?", filters=Filters(as_of="2024-10-10"))
    assert not answer.refused and "Petra Lindqvist said" in answer.text, answer.text
    assert answer.text.count("Petra Lindqvist said") == 1, answer.text
    assert_quotes_verbatim(chat, answer)


PLANTS = [("Corva", 48, 12000), ("Belko", 31, 9000), ("Ivla", 27, 15000), ("Dunmere", 55, 20000)]


@pytest.mark.parametrize("weights", ["handset", "learned"])
def test_an_answer_about_one_place_quotes_no_other_places_article(chat, tmp_path, weights):
    # Asked about the Corva plant, an answer also quoted the cost sentences of the Belko, Ivla and Dunmere
    # plants' articles: each cited rightly, but read as an answer their numbers looked like Corva's.
    # A quote from another article than the lead's must come from one that names what the question names.
    records = [{"id": name.lower(), "title": f"{name} water plant opens", "published": "2024-05-0" + str(i + 1),
                "source": "water.example",
                "text": f"The new water plant in {name} opened on Monday after two years of work.\n\n"
                        f"The plant cost {cost} million euros, the utility said.\n\n"
                        f"It cleans the water of {homes:,} homes."}
               for i, (name, cost, homes) in enumerate(PLANTS)]
    assert chat.ingest([write_corpus(tmp_path, records)]).added == 4
    chosen = RankerWeights.load(weights)
    chat.answerer = ExtractiveAnswerer(chat.embeddings, chosen, small_store_weights=chosen)
    answer = chat.ask("How much did the Corva water plant cost?", filters=Filters(as_of="2024-06-01"))
    assert not answer.refused and "48 million" in answer.text, answer.text
    assert {chat.article(c.chunk.article_id).title for c in answer.citations} == {"Corva water plant opens"}, answer.text
    assert_quotes_verbatim(chat, answer)


@pytest.mark.parametrize("weights", ["handset", "learned"])
def test_a_question_about_a_place_no_article_mentions_is_refused_naming_it(chat, tmp_path, weights):
    # Asked about a plant no article mentions, the answer quoted another town's cost as the answer, at
    # 0.98 confidence. The reply must say which name the articles lack, and show the nearest passages
    # only as related reading. A name the articles write otherwise (a possessive, another transliteration)
    # is still answered.
    records = [{"id": name.lower(), "title": f"{name} water plant opens", "published": "2024-05-0" + str(i + 1),
                "source": {"Kharkiv": "valleycourier.example", "Belko": "Bloomberg"}.get(name, "corvanews.example"),
                "text": f"The new water plant in {name} opened on Monday after two years of work.\n\n"
                        f"The plant cost {cost} million euros, the utility said."}
               for i, (name, cost, _) in enumerate(PLANTS + [("Kharkiv", 61, 0), ("Zürich", 70, 0)])]
    assert chat.ingest([write_corpus(tmp_path, records)]).added == 6
    chosen = RankerWeights.load(weights)
    chat.answerer = ExtractiveAnswerer(chat.embeddings, chosen, small_store_weights=chosen)
    as_of = Filters(as_of="2024-06-01")
    first = "How much did the new Ostrava water plant cost?"
    answer = chat.ask(first, filters=as_of)
    assert answer.refused and not answer.citations and answer.confidence is None, answer.text
    assert "none of them mentions “Ostrava”" in answer.text
    assert answer.related and "million euros" in " ".join(c.quote for c in answer.related)
    # a follow-up carries the name it lacks
    follow_up = chat.ask("And when did it open?", history=[(first, answer.text)], filters=as_of)
    assert follow_up.refused and "“Ostrava”" in follow_up.text, follow_up.text
    other = chat.ask("What about Corva?", history=[(first, answer.text)], filters=as_of)  # a subject of its own
    assert not other.refused and "48 million" in other.text, other.text
    # a name spelled almost like a common word the articles use ("million") is still a name they lack
    millian = chat.ask("How much did the Millian plant cost?", filters=as_of).text
    assert "none of them mentions “Millian”" in millian
    assert "Check the spelling (the articles found write “million”)" in millian  # a typo's refusal offers it
    assert "the articles found write" not in answer.text  # "Ostrava" is spelled like nothing they have
    assert nearest_spellings(["Cheif", "Rosa"], ["Fire Chief Ott closed the coast road."]) == {"Cheif": "Chief"}
    # part of an outlet's name (Bloomberg) is no mention of a name the question asks about
    assert "none of them mentions “Berg”" in chat.ask("How much did the Berg plant cost?", filters=as_of).text
    for question, cost in [("How much did Corva’s new water plant cost?", "48 million"),
                           ("How much did the Corva plant cost, as CorvaNews reported?", "48 million"),  # an outlet
                           ("How much did the Corva plant cost in EUR?", "48 million"),  # an acronym
                           ("How much did the Kharkov water plant cost?", "61 million"),
                           ("How much did the Zurich water plant cost?", "70 million"),  # without its accent
                           # an outlet's name as the question spells it, not as it is stored (valleycourier)
                           ("How much did the Kharkiv water plant cost, according to the Valley Courier?",
                            "61 million")]:
        answer = chat.ask(question, filters=as_of)
        assert not answer.refused and cost in answer.text, (question, answer.text)


def test_an_outlet_the_question_names_is_the_one_quoted(chat, tmp_path):
    # "What did WBRK report about the budget?" quoted the Brookhaven Gazette's story, whose figure differs:
    # the outlet named in the question was not looked at (WBRK, a short acronym, not even as a name).
    story = "The Brookhaven council passed its budget for next year on Tuesday night, worth {} million dollars."
    records = [{"id": outlet, "title": "Brookhaven passes budget", "published": published, "source": outlet,
                "text": story.format(amount) + "\n\nThe mayor said the spending plan protects bus routes and libraries."}
               for outlet, published, amount in [("wbrk.example", "2024-05-02", 409),
                                                 ("brookhavengazette.example", "2024-05-03", 412)]]
    records.append({"id": "wbrk-fire", "title": "Barn fire on Route 9", "published": "2024-05-04", "source": "wbrk.example",
                    "text": "A barn burned down on Route 9 early on Saturday, firefighters said."})
    assert chat.ingest([write_corpus(tmp_path, records)]).added == 3
    as_of = Filters(as_of="2024-06-01")
    for question, outlet in [("What did WBRK report about the Brookhaven budget?", "wbrk.example"),
                             ("How big is the Brookhaven budget, according to the Brookhaven Gazette?",
                              "brookhavengazette.example")]:
        answer = chat.ask(question, filters=as_of)
        assert not answer.refused and {c.chunk.source for c in answer.citations} == {outlet}, (question, answer.text)
        assert_quotes_verbatim(chat, answer)
    # a lower-case word, or a question that asks nothing of an outlet, names none; nor does part of a name
    # ("Michael Bloomberg" said it, not Bloomberg), nor one common word ("What did Time report?")
    assert named_outlet("How hot is the Sun? What time was it?", ["The Sun", "time.com"]) == ""
    outlets = ["Bloomberg", "news.sky.com", "Independent", "time.com", "The Guardian"]
    for question in ("What did Michael Bloomberg say about the election?", "What did Fox News report?",
                     "What did the Independent Commission say?", "What did Time report about the strike?"):
        assert named_outlet(question, outlets) == "", question
    assert named_outlet("What did Bloomberg report about oil?", outlets) == "Bloomberg"
    assert named_outlet("What did the Guardian say?", outlets) == "The Guardian"


def test_a_numbered_name_no_article_writes_is_refused_naming_it(chat, tmp_path):
    # "Who won the Ward 7 special election?" over articles on Ward 4's was answered with Ward 4's winner.
    records = [{"id": "ward4", "title": "Lin wins Ward 4 seat", "published": "2024-03-06", "source": "wbrk",
                "text": "Teresa Lin won the Ward 4 special election on Tuesday with 2,310 votes.\n\n"
                        "Game 6 of the city basketball final is on Friday, the league said."}]
    assert chat.ingest([write_corpus(tmp_path, records)]).added == 1
    as_of = Filters(as_of="2024-03-10")
    refused = chat.ask("Who won the Ward 7 special election?", filters=as_of)
    assert refused.refused and "none of them mentions “Ward 7”" in refused.text, refused.text
    assert not chat.ask("Who won the Ward 4 special election?", filters=as_of).refused
    assert unmatched_numbers("When is Game Six? And Game 7? In World War II?", ["Game 6 is on Friday."]) == ["Game 7"]
    assert unmatched_numbers("What happened on March 3 after the 9-3 win, about 40 people?", ["March 4"]) == []


def test_an_answer_whose_article_does_not_name_the_subject_is_refused(chat, tmp_path):
    # "Who won the men's race at the Riverton Marathon?" over a folder with the Brookhaven Marathon and a
    # Riverton football story quoted Brookhaven's winner: Riverton is in the folder, so no name was missing.
    records = [{"id": "marathon", "title": "Alemu and Chebet win the Brookhaven Marathon", "published": "2026-10-19",
                "source": "wbrk", "text": "The men's race at the Brookhaven Marathon was won by Dawit Alemu in "
                "2:09:47 on Sunday.\n\nRuth Chebet won the women's race, breaking the course record."},
               {"id": "rovers", "title": "Riverton Rovers win the cup", "published": "2026-11-30",
                "source": "valleycourier", "text": "The Riverton Rovers beat Hollis United 3-1 in the regional "
                "cup final on Sunday.\n\nMayor Linda Okafor said the city would hold a parade for the team."}]
    records += [{"id": "plant", "title": "Corva water plant opens", "published": "2026-11-20", "source": "wbrk",
                 "text": "The new Corva water plant opened on Monday.\n\nThe Corva plant cost 48 million euros, the "
                 "utility said."},
                {"id": "bridge", "title": "Corvo bridge reopens", "published": "2026-11-21", "source": "wbrk",
                 "text": "The Corvo bridge reopened on Tuesday after two months of repairs, the county said."}]
    assert chat.ingest([write_corpus(tmp_path, records)]).added == 4
    as_of = Filters(as_of="2026-12-01")
    # a near spelling of a name the store also holds is another place's: the Corva plant's cost is no answer
    corvo = chat.ask("How much did the Corvo water plant cost?", filters=as_of)
    assert "48 million" not in corvo.text, corvo.text
    assert "48 million" in chat.ask("How much did the Corva water plant cost?", filters=as_of).text
    refused = chat.ask("Who won the men's race at the Riverton Marathon?", filters=as_of)
    assert refused.refused and "from an article that does not mention “Riverton”" in refused.text, refused.text
    assert refused.related and not refused.citations and refused.confidence is None
    # the same question about the marathon the folder has, a typo of a name, and an outlet that names itself
    for question in ("Who won the men's race at the Brookhaven Marathon?",
                     "Who won the men's race at the Brookhavenn Marathon?",
                     "Who did the Riverton Rovers beat in the cup final, according to the Valley Courier?"):
        answer = chat.ask(question, filters=as_of)
        assert not answer.refused, (question, answer.text)
    assert names_missing_from("Did Chebet win in Brookhaven?", "Chebet won the Brookhaven race.") == []
    # another spelling counts only while the store holds none as the question writes it (a tester's "Corvo")
    assert names_missing_from("How much did the Corvo plant cost?", "The Corva plant cost 48 million.") == []
    assert names_missing_from("How much did the Corvo plant cost?", "The Corva plant cost 48 million.",
                              known=lambda term: term == "corvo") == ["Corvo"]
    assert names_missing_from("What did Zurich vote on?", "Zürich voted on Sunday.") == []  # (with accents or not)
    assert names_missing_from("What did Zürich vote on?", "Zurich voted on Sunday.") == []
    # a short form of a name's word ("Man Utd" was refused over Manchester United's cup: held-out B), not a name
    # that only shares letters with a word, nor a short form of a word the article does not write as a name
    cup = "Manchester City beat Manchester United 2-1 to win the FA Cup, it was understood."
    assert names_missing_from("How many FA Cups has City won after beating Man Utd?", cup) == []
    assert names_missing_from("What did Ana Lund say?", "Lund said Atlanta was ready.") == ["Ana"]
    assert names_missing_from("Did Man Utd win the cup?", "City won the cup, it was understood.") == ["Utd"]
    # a year the question names: written in the article, or the year it was published in ("this year's")
    airport = "Harwick Airport served 3.1 million passengers, up from 2.6 million in 2025."
    assert names_missing_from("How many passengers used Harwick Airport in 2018?", airport) == ["2018"]
    assert names_missing_from("How many passengers used Harwick Airport in 2025?", airport) == []
    assert names_missing_from("How many passengers used Harwick Airport in 2026?", airport, published="2026-02-01") == []
    # (the review) a number that is no year, and a comparison of two years, one of them written
    assert names_missing_from("Did 2000 people march in Harwick?", "About 2,000 people marched in Harwick.") == []
    assert names_missing_from("Were more passengers counted in 2025 or in 2018 at Harwick Airport?", airport) == []
    assert names_missing_from("What did Bryn Lund say?", "Brayden and Lund spoke.") == ["Bryn"]  # (no "y")
    contest = Chunk("Sweden won this year's contest in Liverpool.", 0, 44, "esc", title="Sweden wins", published="2023-05-14")
    kept, _ = quotes_on_subject("Which country won the 2023 contest?", [Citation(1, contest.text, 0, 44, contest)],
                                lambda c: c.title + "\n" + c.text)
    assert [c.chunk.article_id for c in kept] == ["esc"]
    # a question that compares two subjects is answered from an article on either (a tester's "Which company
    # had larger quarterly revenue, Northwind or Castlepeak?" was refused)
    for question in ("Which company had larger revenue, Northwind or Castlepeak?",
                     "Did more people die in Elena than in the Shawnee tornado?"):
        assert names_missing_from(question, "Castlepeak and Shawnee revenue rose.") == [], question
    assert names_missing_from("Was Northwind or Castlepeak bigger?", "Harbor Federal grew.") == ["Northwind",
                                                                                                  "Castlepeak"]
    # (the review) no comparison, or one side named only in part
    assert names_missing_from("Did Northwind sell more than 2,000 cars in Norway?", "Northwind sold cars in "
                              "Sweden.") == ["Norway"]
    assert names_missing_from("Who won at the Riverton Marathon, the Kenyan or the Ethiopian?",
                              "Ethiopia's Alemu won the Brookhaven Marathon ahead of Kenya's Chebet.") == ["Riverton"]
    # a later quote from an article on the subject leads when the lead's article is another's
    ian = Chunk("Over 12 inches of rain fell from Port Charlotte to Orlando.", 0, 58, "ian", title="Ian floods Florida")
    vermont = Chunk("Nine inches of rain was reported in Plymouth, Vermont.", 0, 54, "vt", title="Vermont floods")
    quotes = [Citation(1, ian.text, 0, 58, ian), Citation(2, vermont.text, 0, 54, vermont)]
    kept, lacking = quotes_on_subject("How much rain fell in Plymouth?", quotes, lambda c: c.title + "\n" + c.text)
    assert [(c.n, c.chunk.article_id) for c in kept] == [(1, "vt")] and lacking == []
    kept, _ = quotes_on_subject("How much rain fell in Plymouth?", quotes[::-1], lambda c: c.title + "\n" + c.text)
    assert [(c.n, c.chunk.article_id) for c in kept] == [(1, "vt"), (2, "ian")]  # later quotes as chosen
    kept, lacking = quotes_on_subject("How much rain fell in Plymouth?", quotes[:1], lambda c: c.title + "\n" + c.text)
    assert kept == [] and lacking == ["Plymouth"]
    # (an answers tester) a later quote that only shares the names leads nothing: its article named Harbor and
    # Dunmore, the plant's article no Dunmore, and the match at Harbor Field answered when the plant closes
    plant = Chunk("Harbor Foods will close its Millbrook plant on June 30.", 0, 55, "plant", title="Plant to close")
    match = Chunk("The Mariners beat Dunmore City 3-1 at Harbor Field.", 0, 51, "match", title="Mariners win")
    quotes = [Citation(1, plant.text, 0, 55, plant), Citation(2, match.text, 0, 51, match)]
    kept, lacking = quotes_on_subject("When will the Harbor Foods plant in Dunmore close?", quotes,
                                      lambda c: c.title + "\n" + c.text)
    assert kept == [] and lacking == ["Dunmore"]
    # (the review) the question's other words in another form, beside the quote or in its headline, or none
    # that a quote needs
    for question, text, title in (("How much rain fell in Plymouth?", "Plymouth recorded nine inches of rainfall.",
                                   "Vermont"),
                                  ("What did the Corva council decide?", "Corva councillors voted 5-2.", "Budget"),
                                  ("What happened to the Starliner?", "Starliner landed without its crew.", "Space"),
                                  ("How many people died in Lahaina?", "More people died overnight. The toll in "
                                   "Lahaina rose to 115.", "Maui fires")):
        later = Chunk(text, 0, len(text), "later", title=title)
        quote = text.split(". ")[-1]
        kept, _ = quotes_on_subject(question, [Citation(1, ian.text, 0, 58, ian),
                                               Citation(2, quote, text.find(quote), len(text), later)],
                                    lambda c: c.title + "\n" + c.text)
        assert [c.chunk.article_id for c in kept] == ["later"], question
    assert names_missing_from("Did Okafor's Riverton win?", "Okafor spoke.", "riverton.example") == []


def test_a_day_the_question_says_something_was_reported_on_leads(chat, tmp_path):
    # "What was the Elena death toll reported on September 22?" quoted the later story's 19 dead, not the
    # 12 of the story of that day.
    records = [{"id": "ap", "title": "Tropical Storm Elena kills 12 in Georgia", "published": "2026-09-22",
                "source": "apnews", "text": "Tropical Storm Elena killed at least 12 people in Georgia, officials "
                "said on Tuesday.\n\nMore than 200,000 homes lost power as the storm moved inland."},
               {"id": "gazette", "title": "Elena death toll rises", "published": "2026-09-25", "source": "coastalgazette",
                "text": "The death toll from Tropical Storm Elena rose to 19 people on Friday, state officials said."
                "\n\nCrews were still restoring power to thousands of homes across the coast."}]
    assert chat.ingest([write_corpus(tmp_path, records)]).added == 2
    records.append({"id": "cup", "title": "Harbor FC wins the cup", "published": "2026-09-28", "source": "apnews",
                    "text": "Harbor FC won the regional cup final 2-1 on Sunday in front of 12,000 fans."})
    assert chat.ingest([write_corpus(tmp_path, records)]).added == 1
    as_of = Filters(as_of="2026-10-01")
    first = "What was the Elena death toll reported on September 22?"
    answer = chat.ask(first, filters=as_of)
    assert not answer.refused and "at least 12 people" in answer.citations[0].quote, answer.text
    # (the review) a follow-up's own day is not the day its carried words name; a day whose articles are about
    # something else leaves the answer to the others; an outlet the question names stays named on any day
    later = chat.ask("And what was it on September 25?", history=[(first, answer.text)], filters=as_of)
    assert not later.refused and "19 people" in later.citations[0].quote, later.text
    other_day = chat.ask("What was the Elena death toll reported on September 28?", filters=as_of)
    assert not other_day.refused and "Elena" in other_day.citations[0].quote, other_day.text
    outlet = chat.ask("What did the Coastal Gazette report on September 22 about the Elena death toll?", filters=as_of)
    assert {c.chunk.source for c in outlet.citations} == {"coastalgazette"}, outlet.text
    assert reported_day("What happens on Dec. 1 in Brookhaven?", "2026-10-01") == ""  # an event's day, not a report's
    assert reported_day("What did Reuters report on Nov. 20 about it?", "2026-10-01") == "2025-11-20"  # the last one


def test_the_names_a_question_asks_about():
    # (the index's vocabulary stands in as a set: `_Snapshot.mentions` is exercised through the store above)
    known = {"corva", "nfl", "hamlin", "covid"}
    names = lambda question: unmentioned_names(question, known.__contains__)  # noqa: E731
    assert names("How much did Ostrava’s new plant cost?") == ["Ostrava"]
    assert names("NFL player Damar Hamlin is a member of which team?") == ["Damar"]  # not "FL"
    assert names("What did the ECB and the IMF say about Corva?") == []  # acronyms
    assert names("What Did The Plant In Ostrava Cost?") == []  # Title Case names nothing
    assert names("Who owns Café Lumière?") == ["Café", "Lumière"]  # (a short question is no Title Case)
    assert names("How did Covid-19 and Hollywood change Corva?") == []  # a number, a common word
    assert names("Ostrava: how much did the plant cost?") == []  # the first word is not looked at


def test_a_model_quoting_an_article_about_something_else_is_refused(chat, tmp_path):
    # A chat model (a fake: no model runs here) asked about a town no article mentions quotes, verbatim,
    # another town's article: every quote passes verification, and the answer would still be wrong.
    records = [{"id": "corva", "title": "Corva water plant opens", "published": "2024-05-01",
                "text": "The new water plant in Corva opened on Monday.\n\nThe plant cost 48 million euros, the utility said."}]
    assert chat.ingest([write_corpus(tmp_path, records)]).added == 1
    chat.answerer = LLMAnswerer(FakeListChatModel(responses=['"The plant cost 48 million euros" [1]']), name="fake")
    answer = chat.ask("How much did the Ostrava water plant cost?", filters=Filters(as_of="2024-06-01"))
    assert answer.refused and not answer.citations and "“Ostrava”" in answer.text, answer.text


def test_the_learned_weights_choose_on_a_large_store_and_the_hand_set_rule_on_a_small_one(seeded_chat):
    answerer = seeded_chat.answerer
    assert answerer.ranker_for(SMALL_STORE_CHUNKS).weights == RankerWeights.load("learned")
    assert answerer.ranker_for(SMALL_STORE_CHUNKS - 1).weights == RankerWeights.load("handset")
    assert answerer.ranker_for(SMALL_STORE_CHUNKS).reader is not None  # the learned weights read sentences


def test_a_small_folder_is_refused_at_its_own_threshold(seeded_chat):
    # The answerability scores run lower on a small folder of mixed news than on the benchmark's stores
    # the main threshold was set on: in folders of 100-1,000 articles it refused 5.5-15% of answerable
    # training questions (bench/small_stores.py).
    shipped = RankerWeights.load("learned")
    small = shipped.small_store_threshold
    assert small["threshold"] < shipped.threshold
    assert shipped.threshold_for(None) == shipped.threshold
    assert shipped.threshold_for(small["up_to_chunks"]) == small["threshold"]
    assert shipped.threshold_for(small["main_from_chunks"]) == shipped.threshold
    # in between, where neither was measured, it rises with the store's size and never by a step
    between = [shipped.threshold_for(n) for n in range(small["up_to_chunks"], small["main_from_chunks"] + 1, 25)]
    assert small["threshold"] < between[len(between) // 2] < shipped.threshold
    assert all(0 <= b - a < 0.002 for a, b in zip(between, between[1:]))

    weights = RankerWeights.load("learned")  # on this one-article store: a main threshold nothing reaches
    weights.threshold = 1.0
    seeded_chat.answerer = ExtractiveAnswerer(seeded_chat.embeddings, weights)
    weights.small_store_threshold = {"threshold": 0.0, "up_to_chunks": 1, "main_from_chunks": 2}  # not small by it
    assert seeded_chat.ask(SOLDIERS).refused
    weights.small_store_threshold = {"threshold": 0.0, "up_to_chunks": 10_000, "main_from_chunks": 20_000}
    answer = seeded_chat.ask(SOLDIERS)  # (which sentences the learned weights pick on the seed is not the point)
    assert not answer.refused and answer.citations


def test_an_answer_reads_more_passages_than_a_search_lists(chat, tmp_path, capsys, monkeypatch):
    # An answer's sentences come from the best 15 passages (Settings.answer_passages: on the training
    # questions support rose from 0.667 with 10 to 0.683, docs/BENCHMARKS.md); a search lists 10. The
    # answer tells the reader which passages it read.
    folder = tmp_path / "harbours"
    folder.mkdir()
    for i in range(20):
        (folder / f"harbour{i:02}.md").write_text(
            f"# Harbour report {i}\n\nThe harbour of Porthaven {i} reopened on Monday after storm repairs, "
            f"officials said.\n", encoding="utf-8")
    report = chat.ingest([folder])
    assert report.added == 20 and not report.failed
    assert len(chat.search("harbour reopened after storm repairs")) == 10
    covered = []  # the answerability model's coverage reads the passages it was fitted on, the first 10
    monkeypatch.setattr(ranker, "coverage", lambda view, passages: covered.append(len(passages)) or
                        coverage(view, passages))
    answer = chat.ask("Which harbour reopened after storm repairs?")
    assert len(answer.retrieved) == 15 and covered == [TRAINED_PASSAGES] == [10]
    assert len(chat.ask("Which harbour reopened after storm repairs?", k=5).retrieved) == 5
    store = ["--store", str(chat.settings.store_dir), "--json"]  # the commands, as a user runs them
    assert main(["search", "harbour reopened after storm repairs", *store]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 10
    assert main(["ask", "Which harbour reopened after storm repairs?", *store]) == 0
    assert len(json.loads(capsys.readouterr().out)["retrieved"]) == 15


def test_the_answer_can_come_from_a_passage_a_search_would_not_list(chat):
    # Of 15 passages read, only the 13th says how long the breakwater is: the answer opens with it and
    # cites passage 13 (a search lists 10; test_an_answer_reads_more_passages_than_a_search_lists).
    chunks, bodies = [], {}
    for n in range(1, 16):
        body = ("Porthaven harbour reopened on Monday after the storm repairs. The rebuilt breakwater is "
                "240 metres long, the harbour master said.") if n == 13 else (
               f"Storm repairs went on at the Porthaven harbour for week {n}. Fishermen waited for the "
               "harbour master to announce when the breakwater would be finished.")
        bodies[f"a{n}"] = body
        chunks.append(Chunk(body, 0, len(body), f"a{n}", title=f"Porthaven report {n}", score=0.5))
    query = standalone_query("How long is the rebuilt breakwater at Porthaven harbour?", [])
    proposal = ExtractiveAnswerer(chat.embeddings).propose(query, chunks, bodies)
    lead = proposal.quotes[0]
    assert (lead.n, lead.quote) == (13, "The rebuilt breakwater is 240 metres long, the harbour master said.")


CONVERSATION = [
    {"id": "bridge", "title": "Pell River bridge collapse kills four", "published": "2026-03-05", "source": "valley.example",
     "text": "A span of the Pell River bridge collapsed during the morning rush hour on Tuesday, dropping three cars "
             "into the river.\n\nFour people died and nine were injured, the county sheriff said at a briefing.\n\n"
             "Divers searched the water until late in the evening."},
    {"id": "plant", "title": "Ardley water plant opens", "published": "2026-03-06", "source": "valley.example",
     "text": "The Ardley water treatment plant will open on April 2, city officials said on Friday.\n\n"
             "The final cost of the plant came to $41.5 million, well above its budget.\n\n"
             "Mayor Ruth Calder called the opening a relief for families who boiled their tap water for years."},
    {"id": "tram", "title": "Neue Tramlinie in Kassel eröffnet", "published": "2026-03-09", "source": "stadt.example",
     "text": "Die neue Tramlinie 9 in Kassel wurde am Samstag eröffnet.\n\nDie Strecke ist 5,1 Kilometer lang "
             "und hat elf Haltestellen.\n\nDer Oberbürgermeister sagte, die Linie koste 70 Millionen Euro."},
]


def test_follow_ups_keep_the_conversations_subject_past_the_second_turn(chat, tmp_path):
    # A third turn ("what did the mayor say?") was searched with the second turn's words only ("cost") and
    # refused; a follow-up whose own words are in no article ("and when did it happen?") was answered from
    # the newest article (a German tram line) and refused, though the first answer's article says "Tuesday".
    assert chat.ingest([write_corpus(tmp_path, CONVERSATION)]).added == 3
    as_of = Filters(as_of="2026-03-10")

    def conversation(*questions):
        history, answers = [], []
        for question in questions:
            answers.append(chat.ask(question, history=history, filters=as_of))
            history.append((question, answers[-1].text))
        return answers

    _, cost, mayor = conversation("When will the Ardley plant open?", "and how much did it cost?",
                                  "what did the mayor say?")
    assert "Ardley" in mayor.query
    assert not cost.refused and "$41.5 million" in cost.citations[0].quote, cost.text
    assert not mayor.refused and "Ruth Calder" in mayor.citations[0].quote, mayor.text
    _, when = conversation("How many people died in the Pell River bridge collapse?", "and when did it happen?")
    assert not when.refused and "on Tuesday" in when.citations[0].quote, when.text
    assert chat.article(when.citations[0].chunk.article_id).title == CONVERSATION[0]["title"]
    for answer in (cost, mayor, when):
        assert_quotes_verbatim(chat, answer)


def test_a_common_word_of_a_name_does_not_make_another_article_on_topic():
    # "Hollin River bridge": the water plant's article says "River Road", and its cost was quoted beside the
    # bridge's sentences as if it were the bridge's. The rare word of a name ("Hollin") is what an article
    # must name for its sentences to stand beside the lead's.
    bodies = {"bridge": "The Hollin River bridge will be replaced. The governor will pay for it.",
              "plant": "The plant on River Road in Corva opened. The full replacement cost $48.6 million."}

    def candidate(text: str, article: str) -> Candidate:
        start = bodies[article].index(text)
        return Candidate(Span(text, start, start + len(text), True, "sentence"), 1,
                         Chunk(bodies[article], 0, len(bodies[article]), article), 0, terms(text))

    lead, plant_cost, governor = (candidate("The Hollin River bridge will be replaced.", "bridge"),
                                  candidate("The full replacement cost $48.6 million.", "plant"),
                                  candidate("The governor will pay for it.", "bridge"))
    on_topic = naming_articles("How much will the replacement of the Hollin River bridge cost?", bodies)
    chosen = choose_quotes(Ranking([lead, plant_cost, governor], [0.9, 0.8, 0.7], 1.0), max_quotes=3,
                           relative=0.1, on_topic=on_topic)
    assert chosen == [lead, governor]
    # a question that names only common words still keeps other articles that name them
    assert naming_articles("What happened on River Road?", bodies)(plant_cost)
    # nor does a month: "in March" leaves the Corva question's rare name to decide
    assert not naming_articles("How much did the Hollin River bridge cost in March?",
                               bodies | {"plant": bodies["plant"] + " It opened in March."})(plant_cost)


def test_a_quote_from_another_article_that_names_the_subject_must_speak_of_the_question():
    # (an answers tester) "Who won the Ashby mayoral election?" quoted the girls' basketball final second:
    # its article names Ashby, and nothing else of the question. A quote from another article than the
    # lead's must have one of the question's other words in it, beside it or in its headline.
    bodies = {"vote": "Ashby voters chose a new mayor on Tuesday. Ruth Calder won with 54% of the vote.",
              "hoops": "Ashby High beat Westfield 58-49 in the state final. The crowd was the largest yet.",
              "count": "The Ashby election count ended at midnight. Turnout was 61%."}

    def candidate(text: str, article: str, title: str = "") -> Candidate:
        start = bodies[article].index(text)
        sentences = [Span(t, bodies[article].index(t), bodies[article].index(t) + len(t), True, "sentence")
                     for t in bodies[article].replace(". ", ".|").split("|")]
        at = next(i for i, sp in enumerate(sentences) if sp.start == start)
        return Candidate(sentences[at], 1, Chunk(bodies[article], 0, len(bodies[article]), article, title=title), at,
                         terms(text), previous=sentences[at - 1] if at else None,
                         following=sentences[at + 1] if at + 1 < len(sentences) else None)

    lead = candidate("Ruth Calder won with 54% of the vote.", "vote")
    final = candidate("Ashby High beat Westfield 58-49 in the state final.", "hoops", title="Ashby High wins title")
    turnout = candidate("Turnout was 61%.", "count")  # (the sentence before it says "election")
    question = "Who won the Ashby mayoral election?"
    chosen = choose_quotes(Ranking([lead, final, turnout], [0.9, 0.8, 0.7], 1.0), max_quotes=3, relative=0.1,
                           on_topic=naming_articles(question, bodies), about=speaks_of(question))
    assert chosen == [lead, turnout]
    assert speaks_of("Who is Ruth Calder?") is None  # a question of names alone asks nothing more of a quote


def test_a_title_news_abbreviates_is_the_one_the_question_spells_out(chat, tmp_path):
    # "What did the governor say?" was refused (13%) beside "Gov. Marian Holt said ..." (an answers tester):
    # "Gov." was no "governor".
    records = [{"id": "storm", "title": "Ice storm cuts power to 40,000 homes in Ashford County",
                "published": "2024-12-04", "source": "ashfordherald",
                "text": "An ice storm knocked out power to 40,000 homes across Ashford County on Tuesday.\n\n"
                        "Crews from Northern Power worked through the night to restore the lines.\n\n"
                        "Gov. Marian Holt said the state would ask for federal disaster aid to cover the repairs.\n\n"
                        "Schools in the county stayed closed on Wednesday, the district said."},
               {"id": "lake", "title": "Study finds rising salt levels in Mirror Lake",
                "published": "2024-12-02", "source": "ashfordherald",
                "text": "Salt levels in Mirror Lake have doubled in ten years, a study published on Monday found.\n\n"
                        "Prof. Helen Marsh, who led the study at Ashford University, said road salt was the main cause.\n\n"
                        "The lake supplies drinking water to 12,000 people in three towns."}]
    assert chat.ingest([write_corpus(tmp_path, records)]).added == 2
    as_of = Filters(as_of="2024-12-06")
    said = chat.ask("What did the governor say?", filters=as_of)
    assert not said.refused and "Gov. Marian Holt said" in said.citations[0].quote, said.text
    assert_quotes_verbatim(chat, said)
    # the ranker reads the title as the question's word: the sentence shares "governor" with the question,
    # and "Gov" is no name the question lacks
    chunk = Chunk("Aid will come, Gov. Marian Holt said.", 0, 37, "storm", title="Ice storm")
    cand = ranker.candidates([chunk], {})[0]
    view = QuestionView("What did the governor say about aid?", ["governor", "aid"], [], "", None)
    row = dict(zip(ranker.SENTENCE_FEATURES, ranker.sentence_features(view, [cand], [chunk])[0]))
    assert row["overlap"] == 1.0 and row["novel_names"] == pytest.approx(2 / 3)  # (Marian and Holt, not Gov)
    assert other_words("What did Gov. Holt say about aid?") == {"aid"}  # (a title of a name is no word asked)
    assert spelled_out("Gov. Marian Holt and Sen. Ana Ruiz") == "Governor Marian Holt and Senator Ana Ruiz"
    assert spelled_out("the gen. public") == "the gen. public"  # (only a title before a name)
