"""Example data in SQLite, with a configurable simulated latency per kind of load.

The functions are plain synchronous code, as most data access is: fastapi-live runs them
in the thread pool, so the event loop never blocks while they sleep or query.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orgs (id INTEGER PRIMARY KEY, slug TEXT UNIQUE, name TEXT, plan TEXT, members INTEGER, founded INTEGER);
CREATE TABLE IF NOT EXISTS profiles (slug TEXT PRIMARY KEY, tagline TEXT, city TEXT);
CREATE TABLE IF NOT EXISTS ranks (slug TEXT PRIMARY KEY, position INTEGER, score INTEGER);
CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, slug TEXT, title TEXT, author TEXT);
CREATE TABLE IF NOT EXISTS settings (slug TEXT, user TEXT, name TEXT, email TEXT, PRIMARY KEY (slug, user));
"""
_ORGS = [
    (1, "acme", "Acme Corp", "Enterprise", 1200, 1949),
    (2, "globex", "Globex Corporation", "Team", 310, 1989),
    (3, "initech", "Initech", "Starter", 48, 1999),
]
_PROFILES = [
    ("acme", "Quality anvils since 1949", "Phoenix"),
    ("globex", "Engineering the future, one volcano at a time", "Cypress Creek"),
    ("initech", "TPS reports, on time", "Austin"),
]
_RANKS = [("acme", 1, 9870), ("globex", 2, 8120), ("initech", 7, 3400)]
_POSTS = [
    (1, "acme", "Rocket skates: a field report", "Wile E."),
    (2, "acme", "Why our anvils fall faster", "R. Runner"),
    (3, "acme", "Quarterly earnings: up and to the right", "Finance"),
    (4, "acme", "Meet the new giant magnet", "Product"),
    (5, "globex", "Hammock district opens", "Hank"),
    (6, "initech", "New cover sheets for TPS reports", "Lumbergh"),
    (7, "acme", "Portable holes: now in stock", "Product"),
    (8, "acme", "Earthquake pills, a safety notice", "Legal"),
    (9, "acme", "The bird seed that started it all", "Archive"),
]
POSTS_PER_PAGE = 4


@dataclass(frozen=True)
class Org:
    id: int
    slug: str
    name: str
    plan: str
    members: int
    founded: int


@dataclass(frozen=True)
class Profile:
    tagline: str
    city: str


@dataclass(frozen=True)
class Post:
    id: int | str  # a row's id, or a draft's random one
    title: str
    author: str


class OrgNotFound(LookupError):
    pass


def _ms(name: str, default: int) -> float:
    return float(os.environ.get(name, default)) / 1000.0


class Database:
    """A small SQLite database, created and seeded on first use."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = str(path or os.environ.get("EXAMPLE_DB", "file:fastapi-live-example?mode=memory&cache=shared"))
        self._local = threading.local()
        self._keeper = self._connect()  # keeps a shared in-memory database alive
        with self._keeper:
            self._keeper.executescript(_SCHEMA)
            self._keeper.executemany("INSERT OR IGNORE INTO orgs VALUES (?,?,?,?,?,?)", _ORGS)
            self._keeper.executemany("INSERT OR IGNORE INTO profiles VALUES (?,?,?)", _PROFILES)
            self._keeper.executemany("INSERT OR IGNORE INTO ranks VALUES (?,?,?)", _RANKS)
            self._keeper.executemany("INSERT OR IGNORE INTO posts VALUES (?,?,?,?)", _POSTS)
        self.org_latency = _ms("EXAMPLE_ORG_LATENCY_MS", 300)
        self.profile_latency = _ms("EXAMPLE_PROFILE_LATENCY_MS", 600)
        self.posts_latency = _ms("EXAMPLE_POSTS_LATENCY_MS", 450)
        self.save_latency = _ms("EXAMPLE_SAVE_LATENCY_MS", 400)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, uri=self.path.startswith("file:"), check_same_thread=False)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def fetch_org(self, slug: str) -> Org:
        return self._fetch_org("slug = ?", slug, f"no organization {slug!r}")

    def fetch_org_by_id(self, org_id: int) -> Org:
        return self._fetch_org("id = ?", org_id, f"no organization with id {org_id}")

    def _fetch_org(self, where: str, value: object, missing: str) -> Org:
        time.sleep(self.org_latency)
        row = self._conn().execute(f"SELECT id, slug, name, plan, members, founded FROM orgs WHERE {where}", (value,)).fetchone()
        if row is None:
            raise OrgNotFound(missing)
        return Org(*row)

    def fetch_profile_and_rank(self, slug: str) -> dict[str, object]:
        time.sleep(self.profile_latency)
        conn = self._conn()
        profile = conn.execute("SELECT tagline, city FROM profiles WHERE slug = ?", (slug,)).fetchone()
        rank = conn.execute("SELECT position, score FROM ranks WHERE slug = ?", (slug,)).fetchone()
        if profile is None or rank is None:
            raise OrgNotFound(f"no profile for {slug!r}")
        return {"profile": Profile(*profile), "rank": {"position": rank[0], "score": rank[1]}}

    def list_posts(self, slug: str, page: int = 1) -> list[Post]:
        """One page of an organization's posts, oldest first."""
        time.sleep(self.posts_latency)
        rows = self._conn().execute(
            "SELECT id, title, author FROM posts WHERE slug = ? ORDER BY id LIMIT ? OFFSET ?", (slug, POSTS_PER_PAGE, (page - 1) * POSTS_PER_PAGE)
        ).fetchall()
        return [Post(*row) for row in rows]

    def count_post_pages(self, slug: str) -> int:
        (count,) = self._conn().execute("SELECT COUNT(*) FROM posts WHERE slug = ?", (slug,)).fetchone()
        return max(1, -(-int(count) // POSTS_PER_PAGE))

    async def save_settings(self, slug: str, user: str, name: str, email: str) -> None:
        """Store a user's settings for an org (slowly enough to see the form locked meanwhile)."""
        await asyncio.sleep(self.save_latency)
        await asyncio.to_thread(self._store_settings, slug, user, name, email)

    def _store_settings(self, slug: str, user: str, name: str, email: str) -> None:
        with self._conn() as conn:
            conn.execute("INSERT OR REPLACE INTO settings VALUES (?,?,?,?)", (slug, user, name, email))
