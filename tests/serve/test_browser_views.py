"""The map, duplicates and tags views and the search filters, in headless Chromium (Debian's package,
driven by Playwright) against a real ``clap serve`` over the library of test_views_api: state in the URL,
keyboard use, playing from each view, hostile file and tag names shown as text."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from .test_browser import artefact, browser, browser_present, serve_process  # noqa: F401  (fixtures)
from .test_browser_page import desk  # noqa: F401  (fixture: a 1280x900 page)
from .test_views_api import HOSTILE_FILE, HOSTILE_TAG, LABELS, views_library  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def views_server(views_library):  # noqa: F811
    with serve_process(views_library[1]) as url:
        yield url


def text_of(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def wait_text(page, selector: str, text: str) -> None:
    page.wait_for_function("([s, t]) => document.querySelector(s).textContent.includes(t)", arg=[selector, text])


def test_the_map_shows_points_hover_names_them_and_click_plays(views_server: str, desk, tmp_path: Path) -> None:  # noqa: F811
    requests: list[str] = []
    desk.on("request", lambda r: requests.append(r.url) if "/api/audio/" in r.url else None)
    desk.goto(views_server + "/?collection=plain#map")
    desk.wait_for_selector("#map-canvas[data-state=drawn]")
    assert desk.locator("#page-map").is_visible() and desk.locator("#page-search").is_hidden()
    assert desk.locator("#nav-map").get_attribute("aria-current") == "page"
    assert "7 items of plain, PCA, coloured by folder" in text_of(desk, "#map-status")
    legend = desk.locator("#map-legend li").all_inner_texts()
    assert sorted(legend) == ["a (2)", "b (1)", "copies (3)", "odd (1)"]
    # the canvas is inked at each point, in its group's colour
    hostile = desk.evaluate("map.data.points.findIndex(p => p.relpath.startsWith('odd/'))")
    x, y = desk.evaluate(f"mapPosition({hostile})")
    box = desk.locator("#map-canvas").bounding_box()
    colour = desk.evaluate(f"""(() => {{ const c = document.querySelector('#map-canvas'), r = devicePixelRatio;
        return Array.from(c.getContext('2d').getImageData({x} * r, {y} * r, 1, 1).data); }})()""")
    group = desk.evaluate(f"map.data.points[{hostile}].group")
    expected = desk.evaluate(f"groupColour({group})")
    assert "#{:02x}{:02x}{:02x}".format(*colour[:3]) == expected and colour[3] == 255
    desk.mouse.move(box["x"] + x, box["y"] + y)
    desk.wait_for_selector("#map-tip", state="visible")
    assert text_of(desk, "#map-tip") == f"odd/{HOSTILE_FILE} — odd"
    desk.evaluate("document.querySelector('#map-audio').muted = true")
    desk.mouse.click(box["x"] + x, box["y"] + y)
    desk.wait_for_function("() => document.querySelector('#map-audio').currentTime > 0.05")
    item = desk.evaluate(f"map.data.points[{hostile}].id")
    assert any(f"/api/audio/plain/{item}" in r for r in requests), requests
    assert text_of(desk, "#map-current .map-path") == f"odd/{HOSTILE_FILE} — odd"
    desk.screenshot(path=str(artefact("serve-map.png", tmp_path)))
    assert desk.evaluate("window.pwned") is None  # the name was text in the tip and the line, never markup


def test_the_map_by_keyboard_and_its_colouring_in_the_url(views_server: str, desk) -> None:  # noqa: F811
    desk.goto(views_server + "/#map")  # the tagged collection: coloured by best tag
    desk.wait_for_selector("#map-canvas[data-state=drawn]")
    assert "coloured by best tag" in text_of(desk, "#map-status")
    assert {t.rsplit(" (", 1)[0] for t in desk.locator("#map-legend li").all_inner_texts()} <= set(LABELS)
    desk.focus("#map-canvas")
    desk.keyboard.press("ArrowRight")  # the leftmost point
    leftmost = desk.evaluate("map.order[0]")
    assert desk.evaluate("map.selected") == leftmost
    desk.keyboard.press("ArrowRight")
    assert desk.evaluate("map.selected") == desk.evaluate("map.order[1]")
    desk.evaluate("document.querySelector('#map-audio').muted = true")
    desk.keyboard.press("Enter")
    desk.wait_for_function("() => document.querySelector('#map-audio').currentTime > 0.05")
    desk.select_option("#map-color", "folder")
    wait_text(desk, "#map-status", "coloured by folder")
    assert "color=folder" in desk.url and desk.url.endswith("#map")
    desk.go_back()
    wait_text(desk, "#map-status", "coloured by best tag")
    desk.focus("#map-canvas")
    desk.keyboard.press("ArrowLeft")  # from nothing chosen: the rightmost point
    chosen = desk.evaluate("map.data.points[map.order[map.order.length - 1]]")
    desk.locator("#map-current .more").click()  # more like this: the search page, in the URL
    wait_text(desk, "#status", "sounds like")
    assert desk.locator("#page-search").is_visible() and f"similar={chosen['id']}" in desk.url
    assert desk.url.endswith("#search") and chosen["relpath"] not in desk.locator(".hit .name").all_inner_texts()
    desk.goto(views_server + "/?collection=plain&color=tag#map")  # no tags to colour by: one line naming clap tag
    wait_text(desk, "#error", "clap tag --db")


def test_duplicates_show_groups_keepers_and_reasons(views_server: str, desk, tmp_path: Path) -> None:  # noqa: F811
    desk.goto(views_server + "/?collection=plain#duplicates")
    wait_text(desk, "#dups-status", "2 groups of near-duplicates among 7 files")
    assert "Nothing is deleted or moved" in text_of(desk, "#dups-status")
    groups = desk.locator(".group")
    assert groups.count() == 2 and groups.first.locator("h3").inner_text() == "Group 1 · 3 files"
    first = groups.first.locator(".hit")
    assert first.first.locator(".name").inner_text() == "copies/one-24.flac"
    assert first.first.locator(".meta").inner_text().startswith("keep · similarity 1.0000")
    reasons = groups.first.locator(".reason").all_inner_texts()
    assert reasons[0].startswith("keep: ") and "lower: lossless (FLAC PCM_24) over lossy (OGG VORBIS)" in reasons
    desk.wait_for_function("() => document.querySelectorAll('.group canvas[data-state=drawn]').length === 5")
    desk.locator("#dups-status").click()
    desk.keyboard.press("j")  # keys move through the files and play them
    desk.keyboard.press("j")
    assert desk.evaluate("document.activeElement.closest('.hit').querySelector('.name').textContent") \
        == first.nth(1).locator(".name").inner_text()
    desk.locator(".group audio").nth(1).evaluate("a => { a.muted = true; }")
    desk.keyboard.press("p")
    desk.wait_for_function("() => !document.querySelectorAll('.group audio')[1].paused")
    desk.screenshot(path=str(artefact("serve-duplicates.png", tmp_path)), full_page=True)
    desk.fill("#dups-threshold", "1")  # a threshold in the URL; back returns to the default
    desk.press("#dups-threshold", "Enter")
    wait_text(desk, "#dups-status", "similarity ≥ 1")
    assert "threshold=1" in desk.url
    desk.go_back()
    wait_text(desk, "#dups-status", "similarity ≥ 0.98")


def test_tags_list_counts_items_and_lead_to_a_filtered_search(views_server: str, desk, tmp_path: Path) -> None:  # noqa: F811
    desk.goto(views_server + "/#tags")
    wait_text(desk, "#tags-status", "7 of 7 items of default tagged")
    chips = desk.locator("#tag-list button")
    assert [c.rsplit(" (", 1)[0] for c in chips.all_inner_texts()] == LABELS
    assert sum(int(c.rsplit(" (", 1)[1].rstrip(")")) for c in chips.all_inner_texts()) == 7
    desk.locator(f"#tag-list button[data-label='{HOSTILE_TAG}']").press("Enter")  # keyboard: a button
    wait_text(desk, "#tag-items-status", f"score “{HOSTILE_TAG}” at least 0.5")
    assert f"tag={quote(HOSTILE_TAG, safe='')}".replace("%20", "+") in desk.url.replace("%20", "+")
    desk.fill("#tags-min", "0")
    desk.press("#tags-min", "Enter")
    wait_text(desk, "#tag-items-status", "7 items score")
    scores = [float(m.split(" · ")[1]) for m in desk.locator("#tag-items .meta").all_inner_texts()]
    assert len(scores) == 7 and scores == sorted(scores, reverse=True)
    assert desk.locator(f"#tag-list button[data-label='{HOSTILE_TAG}']").get_attribute("aria-pressed") == "true"
    desk.screenshot(path=str(artefact("serve-tags.png", tmp_path)), full_page=True)
    desk.reload()  # bookmarkable: the same tag and score after a reload
    wait_text(desk, "#tag-items-status", "7 items score")
    desk.locator("#tags-search").click()  # search within the tag: the filter comes along
    desk.wait_for_selector("#page-search", state="visible")
    assert desk.locator("#where-chips li span").all_inner_texts() == [f"tag:{HOSTILE_TAG}>=0"]
    desk.goto(views_server + "/?collection=plain#tags")
    wait_text(desk, "#tags-status", "no tags in this collection yet: run 'clap tag --db ")
    assert desk.locator("#tag-list li").count() == 0 and desk.locator("#tags-form").is_hidden()
    assert desk.evaluate("window.pwned") is None


def test_search_filters_live_in_the_url(views_server: str, desk) -> None:  # noqa: F811
    desk.goto(views_server + "/?q=melody&where=folder%3Acopies")
    wait_text(desk, "#status", "3 results")
    assert {n.split("/")[0] for n in desk.locator(".hit .name").all_inner_texts()} == {"copies"}
    desk.fill("#where-input", "duration<5")
    desk.press("#where-input", "Enter")  # a second filter: both must hold
    wait_text(desk, "#status", "0 results")
    assert "where=duration%3C5" in desk.url and "where=folder%3Acopies" in desk.url
    desk.locator("#where-chips .remove").first.click()  # drop folder:copies, keep duration<5
    wait_text(desk, "#status", "1 results")
    assert desk.locator(".hit .name").all_inner_texts() == [f"odd/{HOSTILE_FILE}"]
    desk.go_back()
    wait_text(desk, "#status", "0 results")
    desk.fill("#where-input", "loudness>3")
    desk.press("#where-input", "Enter")
    wait_text(desk, "#error", "'loudness>3' is not a filter")
    assert desk.evaluate("window.pwned") is None
