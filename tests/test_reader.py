"""The reader (rag/reader.py): the packaged model with the shipped adapters, as the app runs it."""

from __future__ import annotations

from rag.reader import SentenceReader

QUESTION = "How big is the Belarusian army, according to Lukashenko?"
ANSWER = "Lukashenko said the Belarusian army has 35,000 to 40,000 men."
OTHERS = [
    "The president spoke to reporters in Minsk on Friday.",
    "Belarus has been a close ally of Russia for decades, and the two countries held joint military "
    "exercises near the border with Ukraine last year, drawing criticism from Kyiv and from Western "
    "governments who said the drills were a cover for preparing an attack from the north.",
]


def test_a_sentence_scores_the_same_whatever_is_scored_beside_it():
    # int8 layers scale their inputs by the largest value in a batch: scored in one padded batch, a
    # sentence's score moved with its neighbours, so the app (24 sentences) and training (every
    # candidate) saw different scores for the same sentence.
    reader = SentenceReader()
    alone = reader.scores(QUESTION, [ANSWER])[0]
    assert reader.scores(QUESTION, [ANSWER, *OTHERS])[0] == alone
    assert reader.scores(QUESTION, [OTHERS[1], ANSWER])[1] == alone

