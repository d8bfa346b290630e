#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
# test_login.py - the edge's login page in a real browser (Debian's
# chromium + chromium-driver + python3-selenium, headless, --no-sandbox for
# root), against the edge that with_edge.sh started on loopback.
#
# What it proves: the page is served with its Content-Security-Policy and
# the browser enforces it (an inline script is blocked and reported); a
# wrong password is refused with the French message and no cookie; the
# right one opens a session shown on the page, with an HttpOnly,
# SameSite=Strict cookie that page scripts cannot read; logout ends it.
# Every wait is bounded; nothing leaves 127.0.0.1.
import json
import os
import shutil
import sys

URL = os.environ.get("EGIDE_WEB_URL", "")
USER = os.environ.get("EGIDE_WEB_USER", "")
PWFILE = os.environ.get("EGIDE_WEB_PASSWORD_FILE", "")
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

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
if not URL.startswith("http://127.0.0.1:") or not USER or not PWFILE:
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


def main():
    with open(PWFILE) as f:
        password = f.read().strip()
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
        driver.set_script_timeout(15)
        wait = WebDriverWait(driver, 15)
        driver.get(URL + "/")
        check("the page title", "Égide" in driver.title)
        check("labelled fields",
              driver.find_element(By.CSS_SELECTOR, "label[for=user]").text == "Identifiant" and
              driver.find_element(By.CSS_SELECTOR, "label[for=password]").text == "Mot de passe")
        check("French page", driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr")

        # The headers as the browser received them (same origin, so readable).
        hdr = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/login').then(r => done({
              csp: r.headers.get('content-security-policy'),
              xfo: r.headers.get('x-frame-options'),
              nosniff: r.headers.get('x-content-type-options'),
              ref: r.headers.get('referrer-policy'),
              cache: r.headers.get('cache-control')})).catch(e => done({error: String(e)}));""")
        check("Content-Security-Policy sent", hdr.get("csp") == CSP)
        check("the other security headers",
              hdr.get("xfo") == "DENY" and hdr.get("nosniff") == "nosniff" and
              hdr.get("ref") == "no-referrer" and hdr.get("cache") == "no-store")
        # And enforced: an inline script is blocked and reported.
        blocked = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            let violated = false;
            document.addEventListener('securitypolicyviolation', () => { violated = true; });
            const s = document.createElement('script');
            s.textContent = 'window.__egideInline = 1;';
            document.body.appendChild(s);
            setTimeout(() => done({violated, ran: window.__egideInline === 1}), 500);""")
        check("inline script blocked by the CSP", blocked["violated"] and not blocked["ran"])

        # A wrong password: refused, no cookie.
        driver.find_element(By.ID, "user").send_keys(USER)
        driver.find_element(By.ID, "password").send_keys(password + "x")
        driver.find_element(By.ID, "login-submit").click()
        err = wait.until(EC.visibility_of_element_located((By.ID, "login-error")))
        check("wrong password refused", "incorrect" in err.text)
        check("no session cookie after a refusal",
              not any(c["name"] == "egide_session" for c in driver.get_cookies()))
        check("the session section stays hidden",
              not driver.find_element(By.ID, "session").is_displayed())

        # The right password: a session.
        pw = driver.find_element(By.ID, "password")
        pw.clear()
        pw.send_keys(password)
        driver.find_element(By.ID, "login-submit").click()
        wait.until(EC.visibility_of_element_located((By.ID, "session")))
        check("logged in as the account",
              driver.find_element(By.ID, "session-user").text == USER and
              driver.find_element(By.ID, "session-role").text == "agent")
        cookies = [c for c in driver.get_cookies() if c["name"] == "egide_session"]
        check("session cookie set", len(cookies) == 1)
        if cookies:
            c = cookies[0]
            check("cookie HttpOnly, SameSite=Strict, Path=/",
                  c.get("httpOnly") is True and c.get("sameSite") == "Strict" and
                  c.get("path") == "/")
        check("scripts cannot read the cookie",
              "egide_session" not in driver.execute_script("return document.cookie"))
        who = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/session').then(r => r.json().then(j => done({s: r.status, j})));""")
        check("GET /v1/session says who", who["s"] == 200 and who["j"].get("user") == USER)
        # A change without the CSRF token is refused even with the cookie.
        st = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/messages', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                   body: '{}'}).then(r => r.json().then(j => done(
                {s: r.status, ct: r.headers.get('content-type'), code: j.code, detail: j.detail})));""")
        check("POST without CSRF token refused (403)", st["s"] == 403)
        check("... as an RFC 9457 problem: forbidden, with its detail (%r)" % st,
              st["ct"] == "application/problem+json" and st["code"] == "forbidden"
              and "CSRF" in (st["detail"] or ""))

        # Logout.
        driver.find_element(By.ID, "logout").click()
        wait.until(EC.visibility_of_element_located((By.ID, "login")))
        st = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/session').then(r => done(r.status));""")
        check("logged out: GET /v1/session is 401", st == 401)
    finally:
        driver.quit()
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
