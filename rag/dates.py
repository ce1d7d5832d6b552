"""Dates: reading them from article files, day numbers for filters, and the time a question points at.

A day is kept as a YYYYMMDD integer (`day_number`), 0 when unknown; only real calendar dates get a
number, so nothing stored can make date arithmetic fail later; and a day an older version stored
that is not on the calendar (20230230) counts as unknown wherever days are compared.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

_ISO_START = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
# A date a user types into a filter (--since/--until/--as-of, the page's date fields, the API): YYYY-MM-DD,
# optionally with a time after it (the page's date picker may send "2023-01-06 00:00:00").
_FILTER_DATE = re.compile(_ISO_START.pattern + r"(?:[ T][0-9:.+Z-]*)?$")
_FORMATS = ("%m/%d/%Y", "%d %B %Y", "%B %d, %Y", "%d %b %Y", "%b %d, %Y", "%Y/%m/%d", "%d.%m.%Y")
# Compact, as GDELT's exports write it: "20240301", "20240301T120000Z".
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T\d{4,6}Z?)?$")
# Seconds (or milliseconds) since 1970 in UTC, as some APIs give a date: "1709251200", 1709251200000.
_EPOCH = re.compile(r"^(\d{10})(\d{3})?(?:\.\d+)?$")  # (exactly 10 or 13 digits: "202403011200" is no epoch)


class DateError(ValueError):
    """A date that is written like one but is not on the calendar (2023-02-30, 2023-00-00)."""


def as_of_or_today(value: str | None) -> str:
    """The date a question is asked as of: the one given (YYYY-MM-DD), else today. The one rule for
    the command line, the page, the API and the service."""
    return value or date.today().isoformat()


def filter_date(value: object, name: str) -> str:
    """A filter's date (`name`: since, until, as of) as YYYY-MM-DD, "" when empty. Only YYYY-MM-DD is
    accepted, so 01/02/2023 is never read in one order here and the other there; DateError names the
    field otherwise. The one rule for the command line, the page and the API."""
    text = str(value or "").strip()
    if not text:
        return ""
    if not _FILTER_DATE.match(text):
        raise DateError(f"'{text[:40]}' is not a date for {name}: use YYYY-MM-DD")
    try:
        return iso_date(text)  # its calendar check
    except DateError as e:
        raise DateError(f"{e} (for {name})") from None


# WordPress's date of a post never dated, as its feeds write it: "Mon, 30 Nov -0001 00:00:00 +0000"
_BLANK_YEAR = re.compile(r"(^|\s)-0*1(\s|$)")


def check_window(since: str, until: str) -> None:
    """DateError when a filter's window is empty: "since" after "until" (YYYY-MM-DD each, "" for open).
    Such a question found nothing and said only "no article within those filters"."""
    if since and until and since > until:
        raise DateError(f"the 'since' date {since} is after the 'until' date {until}: no article can be in "
                        f"between (swap them?)")


def iso_date(value: object) -> str:
    """YYYY-MM-DD from the date formats news exports use (ISO, compact "20240301", seconds since 1970,
    written-out dates, RFC 2822); "" when there is none.

    Raises DateError for a value shaped like a date that does not exist, so the reader can say so."""
    text = str(value or "").strip()
    if not text:
        return ""
    m = _ISO_START.match(text) or _COMPACT.match(text)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        except ValueError:
            raise DateError(f"'{text[:40]}' is not a real date") from None
    for fmt in _FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    if m := _EPOCH.match(text):
        return datetime.fromtimestamp(int(m[1]), tz=timezone.utc).date().isoformat()
    if _BLANK_YEAR.search(text):  # (the standard library reads year -1 as 2000)
        raise DateError(f"'{text[:40]}' is not a real date (a blank date, written as year -1)")
    try:  # RFC 2822, as in RSS: "Tue, 20 Dec 2022 15:47:17 GMT"
        return parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return ""


def day_number(iso: str) -> int:
    """YYYYMMDD as an integer for a real date, else 0 (unknown)."""
    m = _ISO_START.match(iso or "")
    if not m:
        return 0
    try:
        date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return 0
    return int(m[1] + m[2] + m[3])


def _as_date(day: int) -> date | None:
    """The date of a day number; None when it is unknown or not on the calendar. A store written by an
    older version may hold one like 20230230 in its metadata: that is an unknown date, never an error."""
    try:
        day = int(day)
        return date(day // 10000, day // 100 % 100, day % 100) if day > 0 else None
    except (TypeError, ValueError, OverflowError):
        return None


def _known(day: int) -> int:
    """`day` as a day number when it is a real date, else 0 (unknown)."""
    return int(day) if _as_date(day) else 0


def days_between(a: int, b: int) -> int:
    """Days between two day numbers; very far when either is unknown (or not a real date)."""
    first, second = _as_date(a), _as_date(b)
    if first is None or second is None:
        return 10_000
    return abs((first - second).days)


_WINDOWS = [  # phrase -> (days before as-of where the window starts, where it ends)
    (r"\b(today|this morning|tonight)\b", 0, 0),
    (r"\byesterday\b", 1, 1),
    (r"\b(this week|past week|this weekend|recent days|days ago)\b", 7, 0),
    (r"\blast week\b", 14, 5),
    (r"\b(this month|past month|recent weeks)\b", 31, 0),
    (r"\blast month\b", 62, 25),
    (r"\b(this year|past year)\b", 366, 0),
]


# English month and day names, in lower case: a date's words, which the sentence splitter, the numbered-name
# check and `reported_day` read alike (the only list of them)
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
MONTH_ABBREVIATIONS = ("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# A day the question says something was reported on: "the death toll reported on September 22", "What did
# Reuters report on Nov. 20 about Northwind?" (a tester's questions led with another day's story). Only with
# a reporting word: "What happens on Dec. 1?" asks about an event, not when it was written. Its own list of
# verbs: answering._REPORTING (what a question asks of an outlet) also takes nouns and "according", which
# before a day say nothing of when it was reported; answering._SPEECH_VERBS follow a speaker's name.
_REPORTED_ON = re.compile(r"\b(?i:reports?|reported|publish(es|ed)?|wr(ote|itten|ites?)|says?|said|announced?|dated)"
                          rf"\s+(?i:on\s+)?(?P<month>{'|'.join(m.capitalize() for m in MONTHS)}|"
                          rf"({'|'.join(m.capitalize() for m in MONTH_ABBREVIATIONS)})\.?)\s+"
                          r"(?P<day>\d{1,2})(st|nd|rd|th)?\b(,?\s+(?P<year>(19|20)\d\d))?")  # (a month capitalised)
_MONTH_NUMBERS = {m[:3]: i for i, m in enumerate(MONTHS, 1)}


def reported_day(question: str, as_of: str) -> str:
    """The day (YYYY-MM-DD) a question says something was reported on (`_REPORTED_ON`; without a year,
    the last such day up to the as-of date), else ""."""
    reported, today = _REPORTED_ON.search(question), _as_date(day_number(as_of))
    if not reported or today is None:
        return ""
    month, day = _MONTH_NUMBERS[reported["month"].lower()[:3]], int(reported["day"])
    for year in ([int(reported["year"])] if reported["year"] else range(today.year, today.year - 8, -1)):
        try:  # without a year, the last such day up to today ("February 29": the last leap year's)
            when = date(year, month, day)
        except ValueError:  # "February 30": no such day
            continue
        if reported["year"] or when <= today:
            return when.isoformat()
    return ""


def time_window(question: str, as_of: str) -> tuple[int, int] | None:
    """(first day, last day) as day numbers that a phrase like "this week" points at."""
    anchor = day_number(as_of)
    if not anchor:
        return None
    for pattern, start, end in _WINDOWS:
        if re.search(pattern, question, re.I):
            first, last = _as_date(anchor) - timedelta(days=start), _as_date(anchor) - timedelta(days=end)
            return int(first.strftime("%Y%m%d")), int(last.strftime("%Y%m%d"))
    return None


def time_prior(day: int, as_of_day: int, window: tuple[int, int] | None, scale_days: float) -> float:
    """A bonus in [0, 1]: 1 inside the question's time window, decaying with distance from it (to 1/e at
    `scale_days`: retrieval's and the ranker's recency each set their own); 0 for an unknown day (or one
    that is not on the calendar)."""
    day, as_of_day = _known(day), _known(as_of_day)
    if not as_of_day or not day:
        return 0.0
    if window:
        if window[0] <= day <= window[1]:
            return 1.0
        distance = min(days_between(day, window[0]), days_between(day, window[1]))
    else:
        distance = days_between(day, as_of_day)
    return math.exp(-distance / scale_days)
