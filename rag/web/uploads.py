"""Saving uploaded files into the articles folder: safe names, size and type checks, and never over a
different file already there (identical bytes are left as they are; a different file of the same
name is kept, and the upload saved beside it as `name-2.ext`)."""

from __future__ import annotations

import filecmp
import glob
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..articles import is_article_name, unsupported_type_text
from ..indexing import is_unwritten
from ..models import failure

_UNSAFE_CHARS = re.compile(r"[^\w.\- ]+")


@dataclass
class Saved:
    """What an upload did: files saved (to index), notes for the user, and failures."""

    paths: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)  # `models.failure`s, as an ingest reports them
    written: list[Path] = field(default_factory=list)  # files this upload created (not ones already there)

    def drop_rejected(self, report, stored: Callable[[Path], bool]) -> None:
        """Delete the files this upload wrote that the ingest rejected whole (`stored` says whether the
        store holds anything from a path), and say so: kept, an empty or binary upload would fail again
        at every later sync, and the page has no way to delete it."""
        for path in self.written:
            failure = next((f for f in report.failed if Path(f["path"]).name == path.name), None)
            written_failed = failure is not None and is_unwritten(failure)  # store trouble: retried
            if failure is not None and not written_failed and not stored(path):
                path.unlink(missing_ok=True)
                failure["error"] += " (not kept)"


def safe_name(name: str) -> str:
    """A file name that cannot leave the folder it is saved in: directories, '..', leading dots and
    odd characters are dropped."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_CHARS.sub("_", base).strip(" .")
    base = base.lstrip(".-_ ") or "article"
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem.strip("._- "):
        base = f"upload.{suffix}" if dot else base
    return base[-150:]


def upload_name(item) -> str:
    """The name the user's file had (Gradio passes a temporary path ending in it, or a file object)."""
    src = Path(item) if isinstance(item, (str, os.PathLike)) else Path(item.name)
    return safe_name(getattr(item, "orig_name", None) or src.name)


def save_uploads(files: list, folder: Path, max_mb: float) -> Saved:
    """Copy uploaded temp files (paths, or Gradio file objects with `orig_name`) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    result = Saved()
    for item in files:
        src = Path(item) if isinstance(item, (str, os.PathLike)) else Path(item.name)
        name = upload_name(item)
        if not is_article_name(Path(name)):
            result.failed.append(failure(name, unsupported_type_text(separator=" ")))
            continue
        try:
            size = src.stat().st_size
        except OSError as e:
            result.failed.append(failure(name, f"cannot read the upload: {e.strerror}"))
            continue
        if size > max_mb * 1024 * 1024:
            result.failed.append(failure(name, f"{size / 1024 / 1024:.1f} MB is over the {max_mb:g} MB upload limit"))
            continue
        target = (root / name).resolve()
        if target.parent != root:  # cannot happen after safe_name; checked anyway
            result.failed.append(failure(name, "file name not allowed"))
            continue
        if target.exists():
            same = next((p for p in _same_name(target) if filecmp.cmp(src, p, shallow=False)), None)
            if same is not None:
                result.paths.append(same)  # the same bytes are there already: nothing to save or change
                continue
            target = _free_name(target)
            result.notes.append(f"a different {name} is already in the articles folder: saved as {target.name}")
        tmp = target.with_name(f".{target.name}.part")
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, target)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            result.failed.append(failure(name, f"cannot save it: {e.strerror}"))
            continue
        result.paths.append(target)
        result.written.append(target)
    return result


def _same_name(target: Path) -> list[Path]:
    """The file and the numbered copies saved beside it (`name-2.ext`, ...)."""
    return [target] + sorted(target.parent.glob(f"{glob.escape(target.stem)}-[0-9]*{glob.escape(target.suffix)}"))


def _free_name(target: Path) -> Path:
    """`name-2.ext`, `name-3.ext`, ... the first that does not exist."""
    n = 2
    while (candidate := target.with_name(f"{target.stem}-{n}{target.suffix}")).exists():
        n += 1
    return candidate
