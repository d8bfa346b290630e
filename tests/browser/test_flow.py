#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_flow.py - the pages of issue 12 in a real browser (Debian's chromium
# + chromium-driver + python3-selenium, headless), on the loopback
# deployment with_edge.sh starts (broker, 119, CRIP 71, Cluny/Tournus):
#
#   the 119 sends a referral (its API, as a connector would); a CRIP agent
#   logs in, sees it in the queue with its triage facts, opens it as a
#   document (the confidential sender's identity hidden), acknowledges,
#   qualifies and assigns it to Cluny/Tournus (pre-filled from the
#   directory's route); a Cluny/Tournus agent logs in, sees the assignment,
#   sends the evaluation report through the form; the CRIP sees the case's
#   evaluation clock closed (met).  Then: a wrong password, a change without
#   the CSRF token and an idle-expired session are refused; every page and
#   asset carries the Content-Security-Policy; and no request of the whole
#   run left the edges' origins (Chrome's performance log: every
#   Network.requestWillBeSent).  Every wait is bounded; invented data only.
import json
import os
import shutil
import sqlite3
import sys
import time
import urllib.request

URL = os.environ.get("EGIDE_WEB_URL", "")
TAS = os.environ.get("EGIDE_WEB_TAS_URL", "")
U119 = os.environ.get("EGIDE_WEB_119_URL", "")
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
PAGES = ["/", "/login", "/crip.html", "/territory.html", "/referral.html", "/deadlines.html", "/it.html"]
ASSETS = ["/assets/favicon.svg", "/assets/style.css", "/assets/login.js", "/assets/app.js", "/assets/queue.js", "/assets/crip.js",
          "/assets/territory.js", "/assets/referral.js", "/assets/deadlines.js", "/assets/it.js"]

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
if not URL.startswith("http://127.0.0.1:") or not TAS or not U119:
    print("browser test: run through tests/browser/with_edge.sh")
    sys.exit(2)

PASSED = 0
FAILED = 0


# WCAG 2.1 AA contrast (1.4.3) of every visible text of the page: the text's
# colour against the first opaque background behind it; 4.5:1, or 3:1 for
# large text (24 px, or 18.66 px bold).  Returns the failures, at most 5.
CONTRAST_JS = """
function rgb(c) { const m = c.match(/[\\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; }
function lum(c) { const v = c.slice(0, 3).map(x => { x /= 255;
  return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; }
function bg(e) { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
  if (c.length < 4 || c[3] > 0.99) return c; } return [255, 255, 255]; }
const bad = [];
for (const e of document.querySelectorAll('body *')) {
  if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
  const st = getComputedStyle(e), r = e.getBoundingClientRect();
  if (st.visibility === 'hidden' || st.display === 'none' || r.width === 0 || r.height === 0) continue;
  const f = rgb(st.color), b = bg(e), l1 = lum(f), l2 = lum(b);
  const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  const px = parseFloat(st.fontSize), large = px >= 24 || (px >= 18.66 && Number(st.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5) && bad.length < 5)
    bad.push(e.tagName + ' "' + e.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2));
}
return bad;
"""


def check(what, cond):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print("ok   " + what)
    else:
        FAILED += 1
        print("FAIL " + what)
    return cond


def send_referral():
    """The 119 sends the invented sample for Cluny (routed by its commune)."""
    src = os.environ.get("EGIDE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    with open(os.path.join(src, "deploy", "samples", "snated-cluny.json")) as f:
        payload = json.load(f)
    with open(os.environ["EGIDE_WEB_119_TOKEN_FILE"]) as f:
        token = f.read().strip()
    req = urllib.request.Request(U119 + "/v1/messages", method="POST",
                                 data=json.dumps({"type": "snated.transmission", "payload": payload}).encode(),
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def headers_of(base, path):
    try:
        with urllib.request.urlopen(base + path, timeout=10) as r:
            return r.status, dict((k.lower(), v) for k, v in r.headers.items())
    except urllib.error.HTTPError as e:
        return e.code, dict((k.lower(), v) for k, v in e.headers.items())


def new_driver():
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--no-first-run", "--disable-extensions", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
              "--user-data-dir=" + os.environ.get("EGIDE_WEB_PROFILE", "/tmp/egide-chromium")):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    d.set_page_load_timeout(30)
    d.set_script_timeout(15)
    return d


REQUESTS = []


def drain(driver):
    """Every URL the browser asked for since the last call."""
    for e in driver.get_log("performance"):
        try:
            m = json.loads(e["message"])["message"]
        except (ValueError, KeyError):
            continue
        if m.get("method") == "Network.requestWillBeSent":
            REQUESTS.append(m["params"]["request"]["url"])


def login(driver, base, user, password):
    driver.delete_all_cookies()
    driver.get(base + "/login")
    wait = WebDriverWait(driver, 20)
    wait.until(EC.visibility_of_element_located((By.ID, "user")))
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(EC.visibility_of_element_located((By.ID, "session")))
    # The home link is set once the node's role is known (GET /v1/health).
    WebDriverWait(driver, 10).until(
        lambda d: d.find_element(By.ID, "home").get_attribute("href") != base + "/crip.html" or
        d.execute_script("return document.readyState") == "complete")
    time.sleep(0.5)


def until_row(driver, url, css, tries=30):
    """Reload url until css matches (the message travels); bounded."""
    for _ in range(tries):
        driver.get(url)
        try:
            return WebDriverWait(driver, 4).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))
        except Exception:
            time.sleep(1)
    return None


def click(driver, elem):
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", elem)
    elem.click()


def open_action(driver, key):
    d = driver.find_element(By.ID, "action-" + key)
    click(driver, d.find_element(By.TAG_NAME, "summary"))
    return d


def submit_action(driver, key):
    click(driver, driver.find_element(By.ID, "submit-" + key))

    def done(d):
        r = d.find_element(By.ID, "action-result")
        ok = r.get_attribute("data-done") == key or "error" in (r.get_attribute("class") or "")
        return r if ok and r.text else None
    return WebDriverWait(driver, 20).until(done)


def main():
    with open(os.environ["EGIDE_WEB_PASSWORD_FILE"]) as f:
        password = f.read().strip()
    crip_user = os.environ["EGIDE_WEB_USER"]
    tas_user = os.environ["EGIDE_WEB_TAS_USER"]

    # Headers of every page and asset, on both edges, as served.
    for base in (URL, TAS):
        for p in PAGES + ASSETS:
            st, h = headers_of(base, p)
            check("%s %s: 200 with the CSP, DENY, no-store" % (base[-5:], p),
                  st == 200 and h.get("content-security-policy") == CSP and
                  h.get("x-frame-options") == "DENY" and h.get("cache-control") == "no-store")
    st, _ = headers_of(URL, "/assets/../edge.ini")
    check("no path outside the embedded files", st in (400, 401, 404))

    sent = send_referral()
    mid = sent["id"]
    check("the 119's referral is queued for the CRIP", "71.crip" in sent.get("recipients", []))

    driver = new_driver()
    try:
        wait = WebDriverWait(driver, 20)
        # --- a wrong password is refused
        driver.get(URL + "/login")
        driver.find_element(By.ID, "user").send_keys(crip_user)
        driver.find_element(By.ID, "password").send_keys(password + "-faux")
        driver.find_element(By.ID, "login-submit").click()
        err = wait.until(EC.visibility_of_element_located((By.ID, "login-error")))
        check("wrong password refused on the page", "incorrect" in err.text)
        check("no session after a wrong password",
              not any(c["name"] == "egide_session" for c in driver.get_cookies()))

        # --- the CRIP agent: queue
        login(driver, URL, crip_user, password)
        home = driver.find_element(By.ID, "home").get_attribute("href")
        check("the CRIP agent's home is the queue", home.endswith("/crip.html"))
        row = until_row(driver, URL + "/crip.html", 'tr[data-id="%s"]' % mid)
        check("the referral is in the CRIP's queue", row is not None)
        if row is None:
            return 1
        cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        check("queue row: type, age band, commune, sender type, clock, state",
              "Transmission du 119" in cells[1] and cells[3].startswith("6-10 ans") and
              cells[4] == "71137" and cells[5].startswith("119") and "reste" in cells[6] and
              cells[7] == "reçu")
        check("the header names the node and the account",
              driver.find_element(By.ID, "node-name").text.startswith("CRIP 71") and
              driver.find_element(By.ID, "who-user").text == crip_user)
        check("the navigation has the queue, deadlines and IT",
              [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#shell nav a")] ==
              ["File d'attente", "Échéances", "Informatique"])

        low = driver.execute_script(CONTRAST_JS)
        check("the queue's texts meet WCAG AA contrast (%s)" % "; ".join(low), not low)
        # the probe itself: a light grey text on white must be caught
        driver.execute_script("""const p = document.createElement('p'); p.id = 'contrast-probe';
            p.textContent = 'gris clair'; p.style.color = '#bbbbbb'; p.style.background = '#ffffff';
            document.body.appendChild(p);""")
        probe = driver.execute_script(CONTRAST_JS)
        driver.execute_script("document.getElementById('contrast-probe').remove();")
        check("the contrast probe catches #bbb on white (%s)" % "; ".join(probe),
              any('"gris clair"' in x for x in probe))
        for w in (1920, 1280):
            driver.set_window_size(w, 1000)
            over = driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            check("the queue fits a %d px window (overflow %d px)" % (w, over), over <= 0)
        row = driver.find_element(By.CSS_SELECTOR, 'tr[data-id="%s"]' % mid)

        # --- the document
        row.find_element(By.TAG_NAME, "a").click()
        wait.until(EC.presence_of_element_located((By.ID, "action-assign")))
        headings = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "#doc h2")]
        check("the document has every section", headings == ["Réception", "Enfants", "Adultes", "Danger", "Suivi"])
        body = driver.find_element(By.ID, "doc").text
        check("the children, the facts and the call are shown",
              "Zoé" in body and "71137" in body and "Récit de l'appelant" in body)
        check("the confidential sender is said to be protected",
              driver.find_elements(By.ID, "sender-protected") != [])
        check("the confidential sender's organisation and reference are not shown",
              "SNATED (119 Allô" not in body and "Référence de l'émetteur" not in body)

        low = driver.execute_script(CONTRAST_JS)
        check("the document's texts meet WCAG AA contrast (%s)" % "; ".join(low), not low)

        # --- accessibility basics: every field labelled, focus visible
        unlabelled = driver.execute_script("""
            return [...document.querySelectorAll('input, select, textarea')]
              .filter(e => !e.id || !document.querySelector('label[for="' + e.id + '"]'))
              .map(e => e.name || e.outerHTML.slice(0, 60));""")
        check("every field of the actions has its label (%s)" % ", ".join(unlabelled[:3]), not unlabelled)
        outline = driver.execute_script("""
            const s = document.querySelector('#action-assign summary'); s.focus();
            const st = getComputedStyle(s); return [document.activeElement === s, st.outlineStyle, st.outlineWidth];""")
        check("keyboard focus is visible (outline %s %s)" % (outline[1], outline[2]),
              outline[0] and outline[1] != "none" and outline[2] != "0px")

        # --- acknowledge, qualify, assign
        click(driver, driver.find_element(By.ID, "ack"))
        WebDriverWait(driver, 20).until(lambda d: "Accusé de réception envoyé" in d.find_element(By.ID, "action-result").text)
        check("acknowledged: the state shows it", "accusé" in driver.find_element(By.ID, "doc").text)
        open_action(driver, "qualify")
        res = submit_action(driver, "qualify")
        check("qualification sent", "envoyé" in res.text and "ok" in res.get_attribute("class"))
        open_action(driver, "assign")
        terr = driver.find_element(By.ID, "assign-territory")
        check("the territory is pre-filled from the directory's route",
              terr.get_attribute("value") == "71.tas.cluny-tournus")
        res = submit_action(driver, "assign")
        check("assignment sent", "envoyé" in res.text and "ok" in res.get_attribute("class"))
        tl = ""
        for _ in range(10):  # bounded: the page re-read the case after the action
            tl = driver.execute_script(
                "const t = document.getElementById('case-timeline'); return t ? t.textContent : '';")
            if "Qualification" in tl and "Demande d'évaluation" in tl:
                break
            time.sleep(1)
        check("the case shows the qualification and the assignment sent (%s)" % tl[:200],
              "Qualification" in tl and "Demande d'évaluation" in tl)

        # Another territory than the directory's needs a reason.
        open_action(driver, "assign")
        terr = driver.find_element(By.ID, "assign-territory")
        terr.clear()
        terr.send_keys("71.tas.macon")
        res = submit_action(driver, "assign")
        check("another territory without a reason is refused by the page",
              "Motif requis" in res.text and "error" in res.get_attribute("class"))
        driver.find_element(By.CSS_SELECTOR, "#form-assign input[name=reason]").send_keys(
            "Enfant déjà suivi par l'équipe de Mâcon (exemple inventé)")
        res = submit_action(driver, "assign")
        check("another territory with a reason is sent", "envoyé" in res.text and "ok" in res.get_attribute("class"))
        tl = driver.execute_script("return document.getElementById('case-timeline').textContent")
        check("the re-dispatch went to Mâcon", tl.count("Demande d'évaluation") == 2 and "71.tas.macon" in tl)

        # The other actions build catalogue payloads the edge accepts.
        open_action(driver, "feedback")
        res = submit_action(driver, "feedback")
        check("feedback to the sender sent", "envoyé" in res.text and "ok" in res.get_attribute("class"))
        open_action(driver, "parquet")
        check("the parquet is pre-filled from the route",
              driver.find_element(By.CSS_SELECTOR, "#form-parquet input[name=parquet]").get_attribute("value") ==
              "71.parquet.macon")
        res = submit_action(driver, "parquet")
        check("the saisine needs the actions already taken",
              "error" in res.get_attribute("class") and "actions_taken" in res.text)
        driver.find_element(By.CSS_SELECTOR, "#form-parquet textarea[name=actions_taken]").send_keys(
            "Évaluation engagée par le territoire (exemple inventé).")
        res = submit_action(driver, "parquet")
        check("saisine of the parquet sent", "envoyé" in res.text and "ok" in res.get_attribute("class"))
        tl = driver.execute_script("return document.getElementById('case-timeline').textContent")
        check("the case shows the feedback and the saisine", "Retour à l'émetteur" in tl and "Saisine du parquet" in tl)

        # --- a change without the CSRF token is refused, with a session
        st = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/messages/%s/ack', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                           body: '{}'}).then(r => done(r.status));""" % mid)
        check("POST without the CSRF token refused (403)", st == 403)
        st = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/messages', {method: 'POST', headers: {'Content-Type': 'application/json',
                  'X-CSRF-Token': '0'.repeat(64)}, body: '{}'}).then(r => done(r.status));""")
        check("POST with a wrong CSRF token refused (403)", st == 403)
        drain(driver)

        # --- Cluny/Tournus
        login(driver, TAS, tas_user, password)
        check("the territory agent's home is the assignments",
              driver.find_element(By.ID, "home").get_attribute("href").endswith("/territory.html"))
        row = until_row(driver, TAS + "/territory.html", 'tr[data-type="evaluation.assignment"]')
        check("the assignment is in the territory's list", row is not None)
        if row is None:
            return 1
        check("the territory's header names its node",
              "Cluny" in driver.find_element(By.ID, "node-name").text)
        row.find_element(By.TAG_NAME, "a").click()
        wait.until(EC.presence_of_element_located((By.ID, "action-report")))
        check("the territory has the report and misrouted actions",
              driver.find_elements(By.ID, "action-misrouted") != [])
        check("the territory may escalate", driver.find_elements(By.ID, "action-escalate") != [])
        open_action(driver, "pair")
        submit_action(driver, "pair")
        res = driver.find_element(By.ID, "action-result")
        check("pair refused until both workers are named",
              "deux évaluateurs" in res.text and "error" in res.get_attribute("class"))
        driver.find_element(By.ID, "pair-1").send_keys("Évaluatrice Exemple")
        driver.find_element(By.ID, "pair-2").send_keys("Éducateur Fictif")
        res = submit_action(driver, "pair")
        check("pair sent", "envoyé" in res.text and "ok" in res.get_attribute("class"))
        check("the assignment acknowledged with the pair named",
              "accusé" in driver.find_element(By.ID, "doc").text and
              driver.find_elements(By.ID, "action-pair") == [])
        open_action(driver, "report")
        ev = driver.find_element(By.ID, "report-evaluators")
        ev.clear()
        ev.send_keys("Évaluatrice Exemple (assistante sociale)\nÉducateur Fictif")
        driver.find_element(By.ID, "report-reasons").send_keys(
            "Les deux enfants ont été rencontrés (exemple inventé).")
        res = submit_action(driver, "report")
        check("evaluation report sent", "envoyé" in res.text and "ok" in res.get_attribute("class"))
        open_action(driver, "escalate")
        driver.find_element(By.ID, "escalate-facts").send_keys("Enfant non rencontré à deux reprises (exemple inventé).")
        res = submit_action(driver, "escalate")
        check("escalation sent", "envoyé" in res.text and "ok" in res.get_attribute("class"))
        # The copy of the 119's referral the territory received: "not ours".
        row = until_row(driver, TAS + "/territory.html", 'tr[data-type="snated.transmission"]')
        check("the territory also lists the referral's copy", row is not None)
        if row is not None:
            row.find_element(By.TAG_NAME, "a").click()
            wait.until(EC.presence_of_element_located((By.ID, "action-misrouted")))
            check("no report form on a referral", driver.find_elements(By.ID, "action-report") == [])
            open_action(driver, "misrouted")
            driver.find_element(By.CSS_SELECTOR, "#form-misrouted textarea[name=reason_text]").send_keys(
                "Famille suivie par un autre territoire (exemple inventé).")
            res = submit_action(driver, "misrouted")
            check("routing.misrouted sent to the CRIP", "envoyé" in res.text and "ok" in res.get_attribute("class"))
        drain(driver)

        # --- the CRIP sees the clock closed
        login(driver, URL, crip_user, password)
        met = until_row(driver, URL + "/referral.html?id=" + mid,
                        '#case-obligations tr[data-name="evaluation"][data-state="met"]')
        check("the CRIP sees the evaluation clock closed (met)", met is not None)
        tl = driver.execute_script("return document.getElementById('case-timeline').textContent")
        check("the CRIP's case shows the report received", "Rapport d'évaluation" in tl)
        qrow = until_row(driver, URL + "/crip.html", 'tr[data-id="%s"]' % mid)
        check("the queue shows the referral acknowledged", qrow is not None and
              qrow.find_elements(By.TAG_NAME, "td")[7].text == "accusé")
        driver.get(URL + "/deadlines.html")
        wait.until(EC.presence_of_element_located((By.ID, "chart-svg")))
        check("the dashboard draws its chart with the referral of this week",
              len(driver.find_elements(By.CSS_SELECTOR, "#chart-svg rect.bar-received")) >= 1)
        driver.get(URL + "/it.html")
        b = wait.until(EC.presence_of_element_located((By.ID, "it-broker-state")))
        check("the IT page shows the broker connected and the expiries",
              b.text == "connecté" and driver.find_element(By.ID, "it-pending").text.isdigit() and
              "j restants" in driver.find_element(By.ID, "it-dir-expiry").text and
              "j restants" in driver.find_element(By.ID, "it-cert-expiry").text)

        # --- an idle-expired session is refused: its last use set back 2 h
        db = sqlite3.connect(os.environ["EGIDE_WEB_CRIP_DB"], timeout=10)
        n = db.execute("UPDATE sessions SET last_ms = last_ms - 7200000").rowcount
        db.commit()
        db.close()
        check("the session was aged in the store", n >= 1)
        st = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/queue').then(r => done(r.status));""")
        check("an idle-expired session is refused (401)", st == 401)
        driver.get(URL + "/crip.html")
        WebDriverWait(driver, 15).until(lambda d: "/login" in d.current_url)
        check("a page with an expired session goes back to the login", "/login" in driver.current_url)

        # --- nothing left the edges' origins
        drain(driver)
        origins = (URL + "/", TAS + "/")
        # chrome:// (the browser's own start page) and data: (bytes already in
        # the browser) never reach the network.
        outside = [u for u in REQUESTS if not u.startswith(origins + ("chrome://", "data:"))]
        check("the browser made requests (%d seen)" % len(REQUESTS),
              any(u.endswith("/assets/app.js") for u in REQUESTS) and len(REQUESTS) > 20)
        check("no request outside the edges' origins%s" % ("" if not outside else ": " + outside[0]),
              not outside)
        errors = [e for e in driver.get_log("browser") if "Content Security Policy" in e.get("message", "")]
        check("no CSP violation reported by the pages", not errors)
    finally:
        driver.quit()
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
