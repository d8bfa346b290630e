#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
# screenshots.py - a screenshot of every screen of the edge's pages into
# docs/screenshots/ (or $EGIDE_SCREENSHOT_DIR), with INVENTED data only
# (deploy/samples), on the loopback deployment with_edge.sh starts:
#
#   bash tests/browser/with_edge.sh tests/browser/screenshots.py
#
# (EGIDE_BIN must point at a build directory.)  Not a test: it asserts
# only that each screen was reached; the auditor's screen with an auditor
# account made here.
import copy
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["EGIDE_WEB_URL"]
TAS = os.environ["EGIDE_WEB_TAS_URL"]
U119 = os.environ["EGIDE_WEB_119_URL"]
SRC = os.environ.get("EGIDE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.environ.get("EGIDE_SCREENSHOT_DIR", os.path.join(SRC, "docs", "screenshots"))


def send(payload):
    with open(os.environ["EGIDE_WEB_119_TOKEN_FILE"]) as f:
        token = f.read().strip()
    req = urllib.request.Request(U119 + "/v1/messages", method="POST",
                                 data=json.dumps({"type": "snated.transmission", "payload": payload}).encode(),
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["id"]


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(SRC, "deploy", "samples", "snated-cluny.json")) as f:
        base = json.load(f)
    # Three invented referrals: the sample, an urgent one about a baby, one more.
    ids = [send(base)]
    baby = copy.deepcopy(base)
    baby["snated_ref"] = "SNATED-2026-000124"
    baby["sender"]["reference"] = "SNATED-2026-000124"
    baby["urgency"] = "urgent"
    baby["children"] = [dict(base["children"][0], first_names=["Jade"], birth_date="2025-11-02")]
    ids.append(send(baby))
    third = copy.deepcopy(base)
    third["snated_ref"] = "SNATED-2026-000125"
    third["sender"]["reference"] = "SNATED-2026-000125"
    third["children"] = [dict(base["children"][1], first_names=["Tom"], birth_date="2011-03-09")]
    ids.append(send(third))
    time.sleep(3)

    with open(os.environ["EGIDE_WEB_PASSWORD_FILE"]) as f:
        password = f.read().strip()
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
              "--disable-extensions", "--window-size=1280,900", "--hide-scrollbars",
              "--user-data-dir=" + os.environ.get("EGIDE_WEB_PROFILE", "/tmp/egide-chromium-shots")):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    d.set_page_load_timeout(30)
    wait = WebDriverWait(d, 20)
    shots = []

    def shot(name, css):
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))
        time.sleep(0.8)
        p = os.path.join(OUT, name + ".png")
        d.save_screenshot(p)
        shots.append(p)
        print("saved", p)

    def login(base, user):
        d.delete_all_cookies()
        d.get(base + "/login")
        d.find_element(By.ID, "user").send_keys(user)
        d.find_element(By.ID, "password").send_keys(password)
        d.find_element(By.ID, "login-submit").click()
        wait.until(EC.visibility_of_element_located((By.ID, "session")))

    def act(key):
        e = d.find_element(By.CSS_SELECTOR, "#action-%s summary" % key)
        d.execute_script("arguments[0].scrollIntoView({block: 'center'});", e)
        e.click()

    try:
        d.get(URL + "/login")
        shot("01-connexion", "#login-form")
        login(URL, os.environ["EGIDE_WEB_USER"])
        d.get(URL + "/crip.html")
        d.set_window_size(1920, 900)  # the queue on a 1920 px screen
        shot("02-crip-file-attente", 'tr[data-id="%s"]' % ids[0])
        d.set_window_size(1280, 900)
        d.get(URL + "/referral.html?id=" + ids[0])
        wait.until(EC.presence_of_element_located((By.ID, "action-assign")))
        d.find_element(By.ID, "ack").click()
        wait.until(lambda x: "Accusé" in x.find_element(By.ID, "action-result").text)
        act("assign")
        d.execute_script("window.scrollTo(0, 0);")
        shot("03-crip-document-et-actions", "#assign-territory")
        d.find_element(By.ID, "submit-assign").click()
        wait.until(lambda x: "envoyé" in x.find_element(By.ID, "action-result").text)
        d.get(URL + "/deadlines.html")
        d.set_window_size(1280, 1700)  # the table and the chart below it
        shot("04-crip-echeances", "#chart-svg")
        d.set_window_size(1280, 900)
        d.get(URL + "/it.html")
        shot("05-informatique", "#it-broker-state")
        login(TAS, os.environ["EGIDE_WEB_TAS_USER"])
        for _ in range(30):
            d.get(TAS + "/territory.html")
            try:
                WebDriverWait(d, 3).until(EC.presence_of_element_located(
                    (By.CSS_SELECTOR, 'tr[data-type="evaluation.assignment"]')))
                break
            except Exception:
                time.sleep(1)
        shot("06-territoire-affectations", 'tr[data-type="evaluation.assignment"]')
        d.find_element(By.CSS_SELECTOR, 'tr[data-type="evaluation.assignment"] a').click()
        wait.until(EC.presence_of_element_located((By.ID, "action-report")))
        act("report")
        ev = d.find_element(By.ID, "report-evaluators")
        ev.clear()
        ev.send_keys("Évaluatrice Exemple (assistante sociale)\nÉducateur Fictif")
        d.find_element(By.ID, "report-reasons").send_keys(
            "Les deux enfants ont été rencontrés ; la mère accepte un accompagnement (exemple inventé).")
        d.execute_script("document.getElementById('action-report').scrollIntoView({block: 'start'});")
        shot("07-territoire-rapport-evaluation", "#report-reasons")
        if os.path.exists(os.path.join(SRC, "web", "auditor.html")):
            # The auditor (an account of their own, made as IT would): the
            # referral's trail (opened and acknowledged by the agent above),
            # each entry's proof checked in the browser.
            subprocess.run([os.path.join(os.environ["EGIDE_BIN"], "egide"), "user", "add", "--db",
                            os.environ["EGIDE_WEB_DB"], "--role", "auditor", "--password-file",
                            os.environ["EGIDE_WEB_PASSWORD_FILE"], "auditrice"],
                           check=True, capture_output=True, timeout=60)
            login(URL, "auditrice")
            d.get(URL + "/audit#message=" + ids[0])
            wait.until(lambda x: x.find_elements(By.CSS_SELECTOR, "#trail-table tbody tr"))
            rows = d.find_elements(By.CSS_SELECTOR, "#trail-table tbody tr")
            opened = [tr for tr in rows if "a ouvert le contenu" in tr.text]
            if opened:  # the agent's opening: its proof checked in the browser
                opened[0].find_element(By.TAG_NAME, "button").click()
                wait.until(lambda x: x.find_element(By.ID, "proof-result").get_attribute(
                    "data-result") in ("vérifiée", "échec"))
            d.set_window_size(1280, 1300)
            shot("08-audit", "#trail-table")
    finally:
        d.quit()
    # Smaller files for the repository when pngquant (Debian's) is there.
    if shutil.which("pngquant"):
        for p in shots:
            subprocess.call(["pngquant", "--force", "--skip-if-larger", "--quality", "60-90",
                             "--output", p, p])
    print("%d screenshots in %s" % (len(shots), OUT))
    return 0 if len(shots) >= 8 else 1


if __name__ == "__main__":
    sys.exit(main())
