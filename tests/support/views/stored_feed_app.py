"""``uvicorn tests.support.views.stored_feed_app:app``: the stored feed, its store named by the environment."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.views.stored_feed import STORE_ENV, make_app

app = make_app(Path(os.environ[STORE_ENV]))
