"""The team board (/todos) in Chromium: two browsers on two worker processes behind a
non-sticky balancer see each other's changes within a second, and an inline edit keeps its
focus and typed text while other rows update."""

from __future__ import annotations

import os
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.support.proxy import RoundRobinProxy
from tests.support.servers import SubprocessServer

pytestmark = [pytest.mark.browser, pytest.mark.redis]
ROOT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONNECTED = re.compile(r"\blive-connected\b")


@pytest.fixture
def balanced(redis_server_url, tmp_path):
    env = {"PYTHONPATH": ROOT_DIR, "REDIS_URL": redis_server_url, "EXAMPLE_TODOS_DB": str(tmp_path / "todos.sqlite3")}
    a = SubprocessServer("examples.app.main:app", env=env).start()
    b = SubprocessServer("examples.app.main:app", env=env).start()
    proxy = RoundRobinProxy([a.port, b.port]).start()
    yield proxy
    proxy.stop()
    a.stop()
    b.stop()


def open_boards(browser, proxy, users):
    pages = []
    for index, user in enumerate(users):
        proxy.pin(index)  # each user's page is served and owned by another worker
        page = browser.new_context().new_page()
        page.goto(f"{proxy.url}/login?user={user}")
        page.goto(f"{proxy.url}/todos")
        expect(page.locator("#live-root")).to_have_class(CONNECTED)
        expect(page.locator(".open-count")).to_have_text(re.compile(r"\d+ open"))
        pages.append(page)
    proxy.spread()
    return pages


def add(page, title: str):
    page.fill("#add-todo input[name=title]", title)
    page.press("#add-todo input[name=title]", "Enter")
    row = page.locator("#todos li.todo", has_text=title)
    expect(row).to_have_count(1)
    expect(page.locator("#add-todo input[name=title]")).to_have_value("")
    return row


def test_two_browsers_see_each_others_changes_within_a_second(browser, balanced):
    ann, bob = open_boards(browser, balanced, ("ann", "bob"))
    title = f"Ship {uuid.uuid4().hex[:6]}"
    row = add(ann, title)
    dom_id = row.get_attribute("id")
    assert dom_id is not None and re.fullmatch(r"todo-\d+", dom_id), dom_id

    theirs = bob.locator(f"#{dom_id}")
    expect(theirs).to_contain_text(title, timeout=1000)
    expect(theirs.locator(".todo-author")).to_have_text("ann")
    expect(bob.locator("#presence li")).to_have_count(2, timeout=1000)

    theirs.locator(".todo-done").check()
    expect(ann.locator(f"#{dom_id}")).to_have_class(re.compile(r"\bdone\b"), timeout=1000)
    expect(ann.locator(f"#{dom_id} .todo-done")).to_be_checked()

    ann.locator(f"#{dom_id} button", has_text="Edit").click()
    ann.locator(f"#{dom_id} input[name=title]").fill(f"{title} today")
    ann.keyboard.press("Enter")
    expect(theirs.locator(".todo-title")).to_have_text(f"{title} today", timeout=1000)

    theirs.locator("button", has_text="Delete").click()
    expect(ann.locator(f"#{dom_id}")).to_have_count(0, timeout=1000)
    ann.context.close()
    bob.context.close()


def test_an_inline_edit_keeps_focus_and_typing_while_other_rows_update(browser, balanced):
    ann, bob = open_boards(browser, balanced, ("ann", "bob"))
    mine = add(ann, "Mine to edit")
    other = add(ann, "Someone else's")
    mine_id, other_id = mine.get_attribute("id"), other.get_attribute("id")

    mine.locator("button", has_text="Edit").click()
    field = ann.locator(f"#{mine_id} input[name=title]")
    expect(field).to_be_focused()
    field.press("End")
    field.type(" (half typed")

    # Meanwhile bob changes other rows: a new one, a rename, a done.
    add(bob, "Bob's new row")
    bob.locator(f"#{other_id} button", has_text="Edit").click()
    bob.locator(f"#{other_id} input[name=title]").fill("Renamed by bob")
    bob.keyboard.press("Enter")
    bob.locator(f"#{other_id} .todo-done").check()
    expect(ann.locator(f"#{other_id} .todo-title")).to_have_text("Renamed by bob", timeout=1000)
    expect(ann.locator(f"#{other_id}")).to_have_class(re.compile(r"\bdone\b"), timeout=1000)
    expect(ann.locator("#todos li.todo", has_text="Bob's new row")).to_have_count(1, timeout=1000)

    expect(field).to_be_focused()
    expect(field).to_have_value("Mine to edit (half typed")
    field.type(")")
    field.press("Enter")
    expect(bob.locator(f"#{mine_id} .todo-title")).to_have_text("Mine to edit (half typed)", timeout=1000)

    # Saved: the editor's own row leaves edit mode and shows the new title too.
    expect(ann.locator(f"#{mine_id} .todo-title")).to_have_text("Mine to edit (half typed)", timeout=1000)

    # Escape cancels: the row shows its title again, unchanged.
    ann.locator(f"#{mine_id} button", has_text="Edit").click()
    ann.locator(f"#{mine_id} input[name=title]").fill("never saved")
    ann.keyboard.press("Escape")
    expect(ann.locator(f"#{mine_id} .todo-title")).to_have_text("Mine to edit (half typed)")
    expect(ann.locator(f"#{mine_id} input[name=title]")).to_have_count(0)
    ann.context.close()
    bob.context.close()


def test_the_add_form_says_title_is_required_after_touching_it(browser, balanced):
    (ann,) = open_boards(browser, balanced, ("ann",))
    field = ann.locator("#add-todo input[name=title]")
    expect(ann.locator("#add-todo")).not_to_contain_text("Title is required")
    field.fill("x")
    field.fill("")
    expect(ann.locator("#add-todo")).to_contain_text("Title is required", timeout=1000)
    expect(field).to_be_focused()
    ann.context.close()
