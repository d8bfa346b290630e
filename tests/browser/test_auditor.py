#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_auditor.py - the auditor's screen (web/auditor.html) in a real
# browser (Debian's chromium + chromium-driver + python3-selenium,
# headless), against the edges with_edge.sh started on loopback.
# (with_edge.sh starts the 119, fr.snated, beside the CRIP.)
#
# What it proves: the 119 (fr.snated) sends the CRIP the invented sample
# referral; the CRIP's agent logs in and opens it (its payload comes back
# to the agent); the auditor logs in, opens /audit for that message and
# sees its signed receipts, the witness state and the trail entry naming
# the agent and "a ouvert le contenu"; the entry's inclusion proof is
# checked in the browser (WebCrypto) and shown "vérifiée"; the same proof
# with one path element or the leaf changed shows "échec"; the auditor's
# own read of the message has no payload, and no text of the referral is
# anywhere in the page; the page has its CSP and labelled fields.
# Every wait is bounded; nothing leaves 127.0.0.1.
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

URL = os.environ.get("EGIDE_WEB_URL", "")
USER = os.environ.get("EGIDE_WEB_USER", "")
PWFILE = os.environ.get("EGIDE_WEB_PASSWORD_FILE", "")
DB = os.environ.get("EGIDE_WEB_DB", "")
TOKEN_FILE = os.environ.get("EGIDE_WEB_TOKEN_FILE", "")
SENDER_URL = os.environ.get("EGIDE_WEB_SENDER_URL", "")
SENDER_TOKEN_FILE = os.environ.get("EGIDE_WEB_SENDER_TOKEN_FILE", "")
BIN = os.environ.get("EGIDE_BIN", "")
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
AUDITOR = "auditeur1"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    webdriver = None

if webdriver is None or not shutil.which("chromium") or not shutil.which("chromedriver"):
    if os.environ.get("CI"):
        print("browser test: chromium, chromium-driver or python3-selenium missing in CI")
        sys.exit(1)
    print("browser test: skipped (chromium, chromium-driver or python3-selenium not installed)")
    sys.exit(77)
if (not URL.startswith("http://127.0.0.1:") or not SENDER_URL.startswith("http://127.0.0.1:")
        or not USER or not PWFILE or not DB or not BIN):
    print("browser test: run through tests/browser/with_edge.sh")
    sys.exit(2)

PASSED = 0
FAILED = 0


def check(what, cond):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print("ok   " + what)
    else:
        FAILED += 1
        print("FAIL " + what)


def api(base, token_file, method, path, body=None):
    with open(token_file) as f:
        token = f.read().strip()
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


def send_referral():
    """The invented 119 sample, from fr.snated to the CRIP; its id once the
    CRIP holds it (polled on the inbox list: metadata only), else None."""
    with open(os.path.join(SRC, "deploy", "samples", "snated-cluny.json")) as f:
        payload = json.load(f)
    st, ans = None, None
    for _ in range(50):  # the sender may not be connected yet: bounded retries
        st, ans = api(SENDER_URL, SENDER_TOKEN_FILE, "POST", "/v1/messages",
                      {"type": "snated.transmission", "commune": "71137", "payload": payload})
        if st == 202:
            break
        time.sleep(0.2)
    if st != 202:
        print("submission answered %s" % st)
        return None, payload
    mid = ans["id"]
    for _ in range(300):  # at most ~60 s
        st, page = api(URL, TOKEN_FILE, "GET", "/v1/messages?box=inbox&limit=50")
        if st == 200 and any(m["id"] == mid for m in page.get("messages", [])):
            return mid, payload
        time.sleep(0.2)
    return None, payload


def login(driver, wait, user, password):
    driver.get(URL + "/")
    wait.until(EC.visibility_of_element_located((By.ID, "user")))
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(EC.visibility_of_element_located((By.ID, "session")))


def logout(driver, wait):
    driver.get(URL + "/")
    wait.until(EC.visibility_of_element_located((By.ID, "logout")))
    driver.find_element(By.ID, "logout").click()
    wait.until(EC.visibility_of_element_located((By.ID, "login")))


def fetch(driver, path):
    return driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text().then(
          t => done({s: r.status, t, csp: r.headers.get('content-security-policy')})))
          .catch(e => done({s: 0, t: String(e)}));""", path)


def main():
    with open(PWFILE) as f:
        password = f.read().strip()
    r = subprocess.run([os.path.join(BIN, "egide"), "user", "add", "--db", DB, "--role", "auditor",
                        "--password-file", PWFILE, AUDITOR], capture_output=True, timeout=60)
    check("auditor account made with egide user add", r.returncode == 0)
    mid, payload = send_referral()
    check("the 119's referral reached the CRIP", mid is not None)
    if mid is None:
        return 1
    # Texts of the referral that must never reach the auditor's page.
    secrets = [payload["caller_account"][:40], "Zoé", "SNATED-2026-000123", "caller_account"]

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--no-first-run", "--disable-extensions", "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--user-data-dir=" + os.environ.get("EGIDE_WEB_PROFILE", "/tmp/egide-chromium")):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(20)
        wait = WebDriverWait(driver, 20)

        # The agent opens the referral: its content comes back, and is noted.
        login(driver, wait, USER, password)
        got = fetch(driver, "/v1/messages/" + mid)
        check("the agent reads the referral's content", got["s"] == 200 and "payload" in got["t"])
        # ... and acknowledges it (with the session's CSRF token): an action
        # in the trail, and a message of its own with signed receipts.
        acked = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/session').then(r => r.json()).then(w => fetch(
              '/v1/messages/' + arguments[0] + '/ack', {method: 'POST', credentials: 'same-origin',
               headers: {'X-CSRF-Token': w.csrf_token}})).then(r => done(r.status))
              .catch(e => done(String(e)));""", mid)
        check("the agent acknowledges it", acked == 200)
        logout(driver, wait)
        ack_id = None
        for _ in range(300):  # the acknowledgement accepted and delivered: at most ~60 s
            st, pg = api(URL, TOKEN_FILE, "GET", "/v1/messages?box=outbox&limit=50")
            acks = [m for m in (pg or {}).get("messages", [])
                    if m.get("type") == "message.acknowledgement"]
            if acks and acks[0].get("state") in ("delivered", "acknowledged"):
                ack_id = acks[0]["id"]
                break
            time.sleep(0.2)
        check("the acknowledgement was delivered to the 119", ack_id is not None)

        # The auditor.
        login(driver, wait, AUDITOR, password)
        own = fetch(driver, "/v1/messages/" + mid)
        check("the auditor's read of the message has no payload",
              own["s"] == 200 and mid in own["t"] and "payload" not in own["t"] and
              not any(s in own["t"] for s in secrets))
        check("the auditor may not read cases (403)", fetch(driver, "/v1/cases")["s"] == 403)
        page = fetch(driver, "/audit")
        check("the audit page is served with its CSP", page["s"] == 200 and page["csp"] == CSP)
        check("the audit page has no inline script",
              "<script>" not in page["t"] and 'src="/assets/auditor.js"' in page["t"])

        driver.get(URL + "/audit#message=" + mid)
        wait.until(EC.visibility_of_element_located((By.ID, "screen")))
        check("French page", driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr")
        check("labelled fields",
              driver.find_element(By.CSS_SELECTOR, "label[for=msg-id]").text.startswith(
                  "Identifiant du message") and
              driver.find_element(By.CSS_SELECTOR, "label[for=account]").text.startswith("Compte"))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#trail-table tbody tr"))
        check("focus on the message field",
              driver.execute_script("return document.activeElement.id") == "msg-id")
        rows = driver.find_elements(By.CSS_SELECTOR, "#trail-table tbody tr")
        opened = [tr for tr in rows if USER in tr.text and "a ouvert le contenu" in tr.text]
        check("the trail names the agent who opened the referral", len(opened) == 1)
        check("every entry shown is about this message", all(mid in tr.text for tr in rows))
        acks = [tr for tr in rows if USER in tr.text and "a accusé réception" in tr.text]
        check("the trail names the agent who acknowledged it", len(acks) == 1)
        wait.until(EC.visibility_of_element_located((By.ID, "message")))
        check("the received message's metadata is shown",
              "snated.transmission" in driver.find_element(By.ID, "message-meta").text)
        wait.until(lambda d: d.find_element(By.ID, "witness-state").text != "…")
        check("the witness state of the broker's checkpoints is shown",
              driver.find_element(By.ID, "witness-state").text in ("concordant", "alerte"))

        # The proof, checked in the browser, by keyboard.
        if opened:
            b = opened[0].find_element(By.TAG_NAME, "button")
            b.send_keys("\n")
            wait.until(lambda d: d.find_element(By.ID, "proof-result").get_attribute(
                "data-result") in ("vérifiée", "échec"))
            res = driver.find_element(By.ID, "proof-result")
            check("the inclusion proof is verified in the browser",
                  res.get_attribute("data-result") == "vérifiée" and "vérifiée" in res.text)
            check("the row says so too",
                  opened[0].find_element(By.CLASS_NAME, "proof-status").text == "vérifiée")
            # The same proof tampered: one path element, then the leaf.
            out = driver.execute_async_script("""
                const done = arguments[arguments.length - 1];
                const a = window.egideAudit;
                const p = JSON.parse(JSON.stringify(a.lastProof));
                const q = JSON.parse(JSON.stringify(a.lastProof));
                const flip = (s) => { const b = atob(s).split('');
                  b[3] = String.fromCharCode(b[3].charCodeAt(0) ^ 1); return btoa(b.join('')); };
                const n = p.proof.length;
                if (n) p.proof[n - 1] = flip(p.proof[n - 1]);
                q.leaf = btoa(atob(q.leaf).replace('""" + USER + """', 'quelquun'));
                Promise.all([a.verifyProof(a.lastProof), a.verifyProof(p), a.verifyProof(q)])
                  .then(v => a.checkAndShow(p, null).then(() =>
                    done({good: v[0].ok, path: v[1].ok, leaf: v[2].ok, n,
                          shown: document.getElementById('proof-result').dataset.result})));""")
            check("the untouched proof verifies", out["good"] is True)
            check("a changed path element fails", out["n"] > 0 and out["path"] is False)
            check("a changed entry fails", out["leaf"] is False)
            check("the page shows the failure", out["shown"] == "échec")

        src = driver.page_source
        check("no text of the referral anywhere in the page",
              not any(s in src for s in secrets) and "payload" not in src)
        # The acknowledgement the CRIP sent: its signed receipts, through
        # the form (keyboard only).
        if ack_id:
            f = driver.find_element(By.ID, "msg-id")
            f.clear()
            f.send_keys(ack_id + "\n")
            wait.until(lambda d: "signature vérifiée" in d.find_element(By.ID, "receipts").text)
            rc = driver.find_element(By.ID, "receipts").text
            check("the acknowledgement's signed receipts are shown (broker and 119)",
                  "accepté par le courtier" in rc and "remis" in rc and "fr.snated" in rc)
        src = driver.page_source
        check("still no text of the referral in the page",
              not any(s in src for s in secrets) and "payload" not in src)
        # The whole trail, without the message filter, still shows no content.
        driver.get(URL + "/audit")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#trail-table tbody tr"))
        src = driver.page_source
        check("the whole trail shows logins and the opening, no content",
              "connexion" in src and "a ouvert le contenu" in src and
              not any(s in src for s in secrets))
        # An agent is told the page is not theirs.
        logout(driver, wait)
        login(driver, wait, USER, password)
        driver.get(URL + "/audit")
        wait.until(EC.visibility_of_element_located((By.ID, "need-login")))
        check("an agent may not use the audit page",
              not driver.find_element(By.ID, "screen").is_displayed() and
              fetch(driver, "/v1/trail")["s"] == 403)
    finally:
        driver.quit()
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
