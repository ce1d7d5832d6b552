"""A handful of small made-up news records with dates and outlets, for retrieval and answering tests."""

from __future__ import annotations

import json
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SEED = PROJECT / "seeds" / "000_11f259bdbcec11cc.txt"
BENCH = PROJECT.parent / "shared" / "bench"  # the benchmark data, when it is beside the checkout

RECORDS = [
    {"id": "hamlin-jan", "title": "Bills safety Damar Hamlin in critical condition after collapse",
     "published": "2023-01-03", "source": "cnn.com", "url": "https://example.com/hamlin-jan",
     "text": "Buffalo Bills safety Damar Hamlin collapsed on the field during Monday night's game against "
             "the Cincinnati Bengals.\n\nHe suffered a cardiac arrest and was taken to the University of "
             "Cincinnati Medical Center, where he remained in critical condition on Tuesday."},
    {"id": "hamlin-old", "title": "Damar Hamlin's toy drive raises money for children",
     "published": "2022-06-01", "source": "usatoday.com", "url": "https://example.com/hamlin-old",
     "text": "Damar Hamlin, then a rookie safety, started a toy drive in his hometown of McKees Rocks, "
             "Pennsylvania.\n\nThe drive raised a few thousand dollars for local children."},
    {"id": "hamlin-later", "title": "Damar Hamlin returns to practice with the Bills",
     "published": "2023-04-20", "source": "theweek.com", "url": "https://example.com/hamlin-later",
     "text": "Months after his cardiac arrest, Damar Hamlin was cleared to return to practice with the "
             "Buffalo Bills, the team said on Tuesday."},
    {"id": "pope", "title": "Vatican holds funeral for Pope Benedict XVI",
     "published": "2023-01-05", "source": "usatoday.com", "url": "https://example.com/pope",
     "text": "Pope Francis presided over the funeral of his predecessor, Benedict XVI, in St. Peter's Square "
             "on Thursday.\n\nIt was the first time in about 600 years that a pope presided over the funeral "
             "of a former pope."},
    {"id": "covid", "title": "US requires negative Covid tests from travelers from China",
     "published": "2023-01-05", "source": "cnn.com", "url": "https://example.com/covid",
     "text": "Starting Thursday, travelers flying to the United States from China must show a negative "
             "Covid-19 test taken no more than two days before departure.\n\nThe rule also covers travelers "
             "from Hong Kong and Macau."},
]


# A follow-up whose answer is in one article, with two others that share its words ("died", "workers"):
# an answer padded with their sentences misleads.
BRIDGE = [
    {"id": "bridge", "title": "Cargo ship strikes Baltimore's Key Bridge, which collapses into the river",
     "published": "2024-03-27", "source": "cnn.com", "url": "https://example.com/bridge",
     "text": "A container ship lost power and struck the Francis Scott Key Bridge in Baltimore early on "
             "Tuesday, and the bridge collapsed into the Patapsco River.\n\nSix construction workers who were "
             "filling potholes on the bridge died; two others were pulled from the water alive.\n\n"
             "The port of Baltimore, one of the busiest on the East Coast, was closed to ships until further "
             "notice.\n\nDivers recovered the bodies of two of the workers on Wednesday."},
    {"id": "guns", "title": "Gun violence in American cities fell last year",
     "published": "2024-03-20", "source": "usatoday.com", "url": "https://example.com/guns",
     "text": "Fewer people died from gun violence in most large American cities last year, a report found."
             "\n\nIn Baltimore, homicides fell by a fifth, the city's police department said.\n\n"
             "Researchers credited violence interruption programs and summer jobs for teenagers."},
    {"id": "covid-deaths", "title": "Covid deaths reach their lowest level since the pandemic began",
     "published": "2024-03-15", "source": "theweek.com", "url": "https://example.com/covid-deaths",
     "text": "Fewer Americans died of Covid-19 this winter than in any winter since 2020, federal data "
             "show.\n\nHospital workers said the wards were quieter than in earlier years."},
]


def write_corpus(folder: Path, records: list[dict] = RECORDS) -> Path:
    path = folder / "news.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path
