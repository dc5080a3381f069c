"""Clicks through a chapter's step-through player in a real (headless) Chromium.

Usage: player.py HTML_DIR CHAPTER STEPS_JSON SHOTS_DIR

HTML_DIR is an `mdbook build` output, CHAPTER a chapter's html file in it (e.g. start.html),
STEPS_JSON the expected phases in order (a JSON list of span names, from the trace), SHOTS_DIR
where the screenshots go. Opens the page over file:// (offline), then checks that:
- the player's root carries data-phase = the first phase and buttons named Previous and Next;
- Next (click) and the arrow keys (keyboard only) move through every phase in the trace's
  order, data-phase following;
- the host-state panel shows the changes the simulator replayed (an overlay mount appears at
  start.mount, the init's process at runtime.clone);
- Previous goes back.
Exits non-zero with a message on the first failure. Prints "N passed, 0 failed" at the end.
"""

import json
import os
import sys

from playwright.sync_api import sync_playwright


def chromium_path():
    for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(p):
            return p
    sys.exit("no chromium: install it with `apt-get install chromium` (scripts/deps.sh does)")


def main():
    html_dir, chapter, steps_json, shots = sys.argv[1:5]
    expected = json.load(open(steps_json))
    os.makedirs(shots, exist_ok=True)
    passed = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto("file://" + os.path.abspath(os.path.join(html_dir, chapter)))
        player = page.locator(".ctrace-player").first
        player.wait_for()
        assert not errors, f"script errors: {errors}"

        def phase():
            return player.get_attribute("data-phase")

        nxt = player.get_by_role("button", name="Next")
        prev = player.get_by_role("button", name="Previous")
        assert phase() == expected[0], f"first phase {phase()!r}, want {expected[0]!r}"
        assert prev.is_disabled(), "Previous is enabled on the first phase"
        passed += 1
        page.screenshot(path=os.path.join(shots, "00-first.png"), full_page=False)

        seen = {}
        for i, want in enumerate(expected[1:], start=1):
            nxt.click()
            assert phase() == want, f"step {i}: data-phase {phase()!r}, want {want!r}"
            added = player.locator(".ctp-added").all_inner_texts()
            seen.setdefault(want, []).extend(added)
            if want in ("start.mount", "runtime.clone", "init.pivot_root"):
                page.screenshot(path=os.path.join(shots, f"{i:02d}-{want}.png"))
        passed += 1
        assert nxt.is_disabled(), "Next is enabled on the last phase"
        assert any("overlay" in l for l in seen.get("start.mount", [])), (
            f"no overlay mount shown at start.mount: {seen.get('start.mount')}"
        )
        assert any("init" in l for l in seen.get("runtime.clone", [])), (
            f"no init process shown at runtime.clone: {seen.get('runtime.clone')}"
        )
        passed += 1

        prev.click()
        assert phase() == expected[-2], f"Previous went to {phase()!r}"
        passed += 1

        # Keyboard alone: focus the player, Home, then the right arrow through every phase.
        player.focus()
        page.keyboard.press("Home")
        assert phase() == expected[0]
        for want in expected[1:]:
            page.keyboard.press("ArrowRight")
            assert phase() == want, f"ArrowRight: {phase()!r}, want {want!r}"
        page.keyboard.press("ArrowLeft")
        assert phase() == expected[-2]
        passed += 1
        page.screenshot(path=os.path.join(shots, "99-last.png"))
        assert not errors, f"script errors: {errors}"
        browser.close()
    print(f"{passed} passed, 0 failed")


if __name__ == "__main__":
    main()
