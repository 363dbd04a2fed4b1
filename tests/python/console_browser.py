"""The console in a real browser (Debian's Chromium driven by Playwright), against a running
server. Prints one JSON object of what it saw; the Rust test (sp-server/tests/api_model/
console.rs) holds it to the issue's checks.

    console_browser.py BASE ADMIN_TOKEN READER_TOKEN AGENT_RUN_ID AXE_JS OUT_DIR
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

from playwright.sync_api import sync_playwright

BASE, ADMIN, READER, RUN_ID, AXE, OUT = sys.argv[1:7]
with open(AXE, encoding="utf-8") as axe_file:
    AXE_SOURCE = axe_file.read()
CHROMIUM = os.environ.get("SP_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = ["overview", "metrics", "requests", "events", "runs", "admin", "playground"]
seen = {"axe": {}, "screenshots": []}


def http(method, path, token=None, body=None, headers=None):
    request = urllib.request.Request(BASE + path, method=method)
    if token:
        request.add_header("authorization", "Bearer " + token)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, data, timeout=30) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as err:
        text = err.read().decode()
        return err.code, (json.loads(text) if text else None)


def axe(page, name):
    """Serious and critical axe-core violations on the page as it is now. axe is evaluated
    through the DevTools protocol: the console's Content-Security-Policy (rightly) refuses
    injected script tags."""
    page.evaluate(AXE_SOURCE + "\n;undefined")
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))")
    seen["axe"][name] = violations


def shoot(page, name):
    path = os.path.join(OUT, name + ".png")
    page.screenshot(path=path, full_page=True)
    seen["screenshots"].append(path)


def sign_in(page, token):
    page.goto(BASE + "/console/")
    page.fill("#key", token)
    page.click("#sign-in-form button")


def main():
    os.makedirs(OUT, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20000)

        # A forged key: the sign-in again, with the API's error.
        sign_in(page, "sp_forged_0000_notakey")
        page.wait_for_selector("#sign-in-error:not(:empty)")
        seen["forged_error"] = page.inner_text("#sign-in-error")
        seen["forged_signed_in"] = page.is_visible("#nav")
        axe(page, "sign-in")
        shoot(page, "sign-in-1280")

        sign_in(page, ADMIN)
        page.wait_for_selector("#nav:not([hidden])")
        seen["key_in_session_storage"] = page.evaluate("sessionStorage.getItem('sp-console-key')") == ADMIN
        seen["cookies"] = len(context.cookies())

        # Overview: every component's status.
        page.wait_for_selector("text=Health checks")
        page.wait_for_selector("caption:has-text('Models')")
        seen["overview"] = page.inner_text("#page")

        # A request made meanwhile (a document whose title is an XSS payload) appears in the
        # request log; its id leads to its events.
        request_id = "console-probe-%d" % int(time.time() * 1000)
        title = '<img src=x onerror="window.__xss=1">'
        status, _ = http("POST", "/v1/documents", ADMIN, {"title": title, "content": "A harmless body."},
                         {"x-request-id": request_id})
        seen["probe_status"] = status
        page.goto(BASE + "/console/#/requests")
        page.fill("#f-request-id", request_id)
        page.click("#page form button[type=submit]")
        page.wait_for_selector("a:has-text('%s')" % request_id)
        seen["request_logged"] = True
        page.click("a:has-text('%s')" % request_id)
        page.wait_for_selector("caption:has-text('Events of this request')")
        page.wait_for_selector("td pre:has-text('onerror')")
        seen["events_of_request"] = page.inner_text("#page")
        seen["xss_ran"] = page.evaluate("window.__xss === 1")
        seen["xss_img_elements"] = page.evaluate("document.querySelectorAll('img').length")

        # The live tail shows an event appended by another client within a second.
        page.goto(BASE + "/console/#/events")
        page.wait_for_selector("caption:has-text('Live events')")
        time.sleep(0.5)
        marker = "tail-%d" % int(time.time() * 1000)
        sent = time.monotonic()
        status, _ = http("POST", "/v1/events", ADMIN, {"stream": "console", "type": "probe.sent", "subject": marker, "data": {"marker": marker}})
        seen["append_status"] = status
        page.wait_for_selector("td:has-text('%s')" % marker, timeout=5000)
        seen["tail_seconds"] = time.monotonic() - sent

        # Admin: a key made here works with another client, then is revoked here.
        page.goto(BASE + "/console/#/admin")
        page.fill("#f-name", "console-made")
        page.check("#scope-documents-read")
        page.click("form button:has-text('Create key')")
        page.wait_for_selector("#new-token")
        token = page.inner_text("#new-token").strip()
        seen["made_key_works"] = http("GET", "/v1/documents", token)[0]
        page.click("button:has-text('Revoke console-made')")
        page.wait_for_selector("button:has-text('Revoke console-made')", state="detached")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            seen["revoked_key"] = http("GET", "/v1/documents", token)[0]
            if seen["revoked_key"] == 401:
                break
            time.sleep(0.2)

        # Runs: the waiting agent run approved from the page.
        page.goto(BASE + "/console/#/runs")
        page.click("button:has-text('%s')" % RUN_ID)
        page.wait_for_selector("button:has-text('Approve')")
        page.click("button:has-text('Approve')")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status, run = http("GET", "/v1/agent-runs/" + RUN_ID, ADMIN)
            seen["run_status"] = run and run.get("status")
            if seen["run_status"] not in ("waiting_approval", "running"):
                break
            time.sleep(0.5)

        # Every page: axe-core, and screenshots at 1280 and 375 px.
        for width in (1280, 375):
            page.set_viewport_size({"width": width, "height": 900})
            for name in PAGES:
                page.goto(BASE + "/console/#/" + name)
                page.wait_for_selector("#page h1")
                page.wait_for_timeout(300)
                if width == 1280:
                    axe(page, name)
                shoot(page, "%s-%d" % (name, width))
            if width == 375:
                seen["overflow_375"] = page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")

        # The bundle: every file the console loads.
        total = 0
        for asset in ("/console/", "/console/app.js", "/console/pages.js", "/console/app.css"):
            request = urllib.request.Request(BASE + asset)
            with urllib.request.urlopen(request, timeout=30) as response:
                total += len(response.read())
                if asset == "/console/":
                    seen["csp"] = response.headers.get("content-security-policy", "")
        seen["bundle_bytes"] = total

        # A key without `admin`: no admin page, and the API refuses it anyway.
        page.click("#sign-out")
        sign_in(page, READER)
        page.wait_for_selector("#nav:not([hidden])")
        seen["reader_sees_admin_link"] = page.is_visible("#nav-admin")
        page.goto(BASE + "/console/#/admin")
        page.wait_for_selector("#page h1")
        seen["reader_admin_page"] = page.inner_text("#page")
        seen["reader_keys_api"] = http("GET", "/v1/keys", READER)[0]
        browser.close()
    print(json.dumps(seen))


main()
