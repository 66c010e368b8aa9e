"""Search over the texts of transcribed recordings (`/heard`).

A term of three characters or more is looked up in ``transcripts_fts`` (FTS5, trigram
tokenizer: any substring of three characters, case-insensitive for Latin letters). Shorter
terms — a Chinese word is often two characters (火情), which no trigram holds — are matched
with ``LIKE`` over the rows the other conditions leave (a time range, a scope, the longer
terms). User text is never FTS syntax: each term is quoted as an FTS5 string (its ``"``
doubled), so ``"``, ``*``, ``NEAR``, ``AND``, ``(``, ``:`` and ``^`` are only characters
to find; in ``LIKE`` patterns ``%``, ``_`` and the escape character are escaped.

Kept fast at scale (90 days of a busy centre: several 100,000 transcripts): a page is read
newest first along the ``begin_at`` index and stops at its tenth match, unless the trigram
index holds few matches (then those are read and sorted); a few named speakers go through
the ``(user_id, begin_at)`` index; the count stops at `COUNT_CAP` ("over 1000").
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database, dump_json, from_db_time, to_db_time

__all__ = ["FTS_MIN_CHARS", "Heard", "HeardPage", "TranscriptSearch", "fts_string", "like_pattern"]

FTS_MIN_CHARS = 3
"""Terms at least this long go through the trigram index; shorter ones through LIKE."""
COUNT_CAP = 1000
"""Matches counted at most: beyond, a page says "over 1000"."""
FTS_DRIVES = 2000
"""Up to this many trigram matches, the search starts from them (and sorts them)."""
FEW_SPEAKERS = 20
"""Up to this many speakers, the search starts from their recordings."""


@dataclass(frozen=True, slots=True)
class Heard:
    """A transcribed recording that contains every term searched for."""

    recording_key: str
    user_id: int | None
    account: str | None
    group_name: str | None
    begin: datetime
    seconds: float | None
    file_url: str
    text: str


@dataclass(frozen=True, slots=True)
class HeardPage:
    """One page of matches, newest first, and how many match in all (`more`: at least
    that many; counting stopped at `COUNT_CAP`)."""

    hits: list[Heard]
    total: int
    more: bool = False


def fts_string(term: str) -> str:
    """`term` as an FTS5 string: the whole of it a literal to find, whatever it holds."""
    return '"' + term.replace('"', '""') + '"'


def like_pattern(term: str) -> str:
    """A ``LIKE … ESCAPE '\\'`` pattern finding `term` anywhere, its ``%`` and ``_`` literal."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class TranscriptSearch:
    """Finds the transcribed (``done``) recordings whose text contains every term."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(
        self,
        terms: Sequence[str],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        speakers: Collection[int] | None = None,
        accounts: Collection[str] = (),
        group_name: str | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> HeardPage:
        """The recordings that began in ``[since, until)`` whose transcript contains every
        one of `terms` (case-insensitive for Latin letters), newest first, `limit` of them
        from `offset`, and how many match in all (counted up to `COUNT_CAP`).

        `speakers` (None: anyone) limits them to those user ids — and to recordings the
        platform gave only an account for, when that account is among `accounts`;
        `group_name` to those made in that talk group.
        """
        words = [t for t in dict.fromkeys(terms) if t]
        if not words:
            raise ValueError("nothing to search for")
        # A unary + keeps SQLite from an index on that column: nearly every row is done,
        # and a long list of speakers or trigram matches is best checked along begin_at.
        where = ["+t.state = 'done'", "t.text IS NOT NULL"]
        params: list[Any] = []
        long = [w for w in words if len(w) >= FTS_MIN_CHARS]
        if long:
            match = " AND ".join(fts_string(w) for w in long)
            row = await self._db.fetchone(
                "SELECT count(*) AS n FROM transcripts_fts WHERE transcripts_fts MATCH ?",
                (match,),
            )
            matched = int(row["n"]) if row is not None else 0
            if not matched:
                return HeardPage([], 0)
            plus = "" if matched <= FTS_DRIVES else "+"
            where.append(
                f"{plus}t.id IN (SELECT rowid FROM transcripts_fts WHERE transcripts_fts MATCH ?)"
            )
            params.append(match)
        for w in words:
            if len(w) < FTS_MIN_CHARS:
                where.append("t.text LIKE ? ESCAPE '\\'")
                params.append(like_pattern(w))
        if since is not None:
            where.append("t.begin_at >= ?")
            params.append(to_db_time(since))
        if until is not None:
            where.append("t.begin_at < ?")
            params.append(to_db_time(until))
        if speakers is not None:
            plus = "" if len(speakers) <= FEW_SPEAKERS else "+"
            where.append(
                f"({plus}t.user_id IN (SELECT value FROM json_each(?))"
                " OR (t.user_id IS NULL AND t.account IN (SELECT value FROM json_each(?))))"
            )
            params += [dump_json(sorted(speakers)), dump_json(sorted(accounts))]
        if group_name is not None:
            where.append("t.group_name = ?")
            params.append(group_name)
        cond = " AND ".join(where)
        rows = await self._db.fetchall(
            f"""
            SELECT t.recording_key, t.user_id, t.account, t.group_name, t.begin_at, t.seconds,
                   t.file_url, t.text
            FROM transcripts t WHERE {cond}
            ORDER BY t.begin_at DESC, t.id DESC LIMIT ? OFFSET ?
            """,
            [*params, limit, offset],
        )
        hits = [
            Heard(
                recording_key=r["recording_key"],
                user_id=r["user_id"],
                account=r["account"],
                group_name=r["group_name"],
                begin=from_db_time(r["begin_at"]),
                seconds=r["seconds"],
                file_url=r["file_url"],
                text=r["text"],
            )
            for r in rows
        ]
        if len(hits) < limit and (hits or not offset):  # the last page: nothing to count
            return HeardPage(hits, offset + len(hits))
        counted = await self._db.fetchone(
            f"SELECT count(*) AS n FROM (SELECT 1 FROM transcripts t WHERE {cond}"
            f" ORDER BY t.begin_at DESC LIMIT {COUNT_CAP + 1})",
            params,
        )
        total = int(counted["n"]) if counted is not None else 0
        if total > COUNT_CAP:
            return HeardPage(hits, max(COUNT_CAP, offset + len(hits)), more=True)
        return HeardPage(hits, total)
