"""Date arithmetic on what a store holds: a store written by an older version may carry a day that is
not on the calendar (day=20230230, published "2023-02-30"); it counts as an unknown date, never an error."""

from __future__ import annotations

import pytest

from rag.dates import day_number, days_between, time_prior, time_window
from rag.models import Filters
from rag.retrieval import RetrievalWeights, fuse

IMPOSSIBLE = [20230230, 20231301, 20230000, 99999999, 123, -20230101]


@pytest.mark.parametrize("day", IMPOSSIBLE)
def test_a_day_not_on_the_calendar_is_an_unknown_day(day):
    assert days_between(day, 20230301) == days_between(20230301, day) == 10_000
    assert time_prior(day, 20230301, None, 30) == 0.0
    assert time_prior(day, 20230301, (20230220, 20230301), 30) == 0.0
    assert time_prior(20230301, day, None, 30) == 0.0


def test_real_days_still_count():
    assert days_between(20230301, 20230228) == 1
    assert time_prior(20230301, 20230301, None, 30) == 1.0
    assert 0 < time_prior(20230215, 20230301, None, 30) < 1
    assert time_prior(20230225, 20230301, time_window("what happened this week?", "2023-03-01"), 30) == 1.0
    assert day_number("2023-02-30") == 0


def test_fusion_over_an_older_stores_impossible_day_does_not_fail():
    """What retrieval does with the `day` of each chunk's Chroma metadata (published "2023-02-30")."""
    days = {"impossible": 20230230, "real": 20230227, "unknown": 0}
    ids = list(days)
    for question in ("What did the mayor say?", "What did the mayor say this week?"):
        scores = fuse(ids, ids[::-1], days, question, Filters(as_of="2023-03-01"), RetrievalWeights())
        without_time = fuse(ids, ids[::-1], days, question, Filters(as_of="2023-03-01"), RetrievalWeights(time=0.0))
        assert scores["impossible"] == without_time["impossible"] and scores["unknown"] == without_time["unknown"]
        assert scores["real"] > without_time["real"]
