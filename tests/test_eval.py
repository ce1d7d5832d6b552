"""`rag eval` and the JSON contract: one process for all questions, output the bench scorer accepts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rag.cli import main
from news_fixtures import BENCH, RECORDS, write_corpus

QUESTIONS = [
    {"id": "q1", "date": "2023-01-06", "question": "Damar Hamlin suffered a cardiac arrest this week. What team does he play for?",
     "answer": "Buffalo Bills"},
    {"id": "q2", "date": "2023-01-06", "question": "The Vatican held a funeral for a former pope for the first time in how many years?",
     "answer": "600 years"},
    {"id": "q3", "date": "2023-01-06", "question": "Travelers from which country now need a negative Covid test to enter the U.S.?",
     "answer": "China"},
]


@pytest.fixture
def split(tmp_path):
    """A miniature split in the bench's own layout (corpus.jsonl + questions.jsonl)."""
    folder = tmp_path / "split"
    folder.mkdir()
    write_corpus(folder)
    (folder / "corpus.jsonl").write_text((folder / "news.jsonl").read_text())
    (folder / "news.jsonl").unlink()
    (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return folder


def test_eval_writes_contract_rows_and_scores(split, tmp_path, capsys):
    store = str(tmp_path / "store")
    assert main(["ingest", str(split / "corpus.jsonl"), "--store", store, "--quiet"]) == 0
    capsys.readouterr()
    out = tmp_path / "results.jsonl"
    assert main(["eval", str(split / "questions.jsonl"), "--store", store, "--out", str(out), "--answers"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["questions"] == 3 and summary["hits@10"] == 1.0
    assert summary["quote_validity"] == 1.0 and summary["answer_support"] >= 2 / 3
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"]
    first = rows[0]["results"][0]
    assert set(first) == {"rank", "score", "text", "article", "start", "end"}
    assert set(first["article"]) >= {"id", "title", "url", "published", "source", "path"}
    answer = rows[0]["answer"]
    assert {"question", "answer", "refused", "citations", "retrieved"} <= set(answer)
    bodies = {r["id"]: r["text"] for r in RECORDS}
    for row in rows:
        for c in row["answer"]["citations"]:
            assert set(c) >= {"n", "quote", "article", "start", "end"}
            assert f"[{c['n']}]" in row["answer"]["answer"]
            assert c["quote"] in bodies[c["article"]["record_id"]]
    scorer = BENCH / "score_eval.py"  # the bench's own scorer agrees with rag eval
    if not scorer.exists():  # said, not passed in silence: on a clean clone the check below did not run
        pytest.skip(f"the benchmark scorer {scorer} is absent (../shared/bench/score_eval.py beside the "
                    f"checkout); rag eval's own summary was checked, the scorer's agreement was not")
    run = subprocess.run([sys.executable, str(scorer), str(split), str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    scored = json.loads(run.stdout.strip().splitlines()[-1])
    assert scored["hits@10"] == summary["hits@10"] and scored["bad_quotes"] == 0
    assert scored["answer_support"] == pytest.approx(summary["answer_support"], abs=1e-3)


def test_ask_json_shape(tmp_path, capsys):
    store = str(tmp_path / "store")
    write_corpus(tmp_path)
    main(["ingest", str(tmp_path / "news.jsonl"), "--store", store, "--quiet"])
    capsys.readouterr()
    assert main(["ask", "Which team does Damar Hamlin play for?", "--store", store, "--as-of", "2023-01-06",
                 "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["refused"] is False and "[1]" in answer["answer"]
    assert answer["citations"][0]["article"]["source"] in {"cnn.com", "usatoday.com"}
    assert all(r["article"]["published"] <= "2023-01-06" for r in answer["retrieved"])
