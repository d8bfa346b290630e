// SPDX-License-Identifier: AGPL-3.0-or-later
// login.js - the login page's only script (a module, loaded from 'self':
// the Content-Security-Policy allows no inline script).  Sends the form as
// JSON to POST /v1/session; the session cookie is HttpOnly, so the page
// keeps only the CSRF token, in memory, for the requests that change state.

const ROLES = { agent: "agent", supervisor: "encadrement", auditor: "audit", admin: "administration" };
let csrf = null;

const $ = (id) => document.getElementById(id);

function showError(text) {
  const e = $("login-error");
  e.textContent = text;
  e.hidden = !text;
}

// The home page of an account on this node (as app.js's homeOf).
async function home(role) {
  let nodeRole = "";
  try {
    nodeRole = (await (await fetch("/v1/health", { cache: "no-store" })).json()).node_role || "";
  } catch (e) {
    /* the CRIP's page by default */
  }
  if (role === "auditor") return "/auditor.html";
  if (role === "admin") return "/it.html";
  return nodeRole === "tas" || nodeRole === "ase" ? "/territory.html" : "/crip.html";
}

function showSession(who) {
  csrf = who.csrf_token;
  home(who.role).then((h) => { $("home").href = h; });
  $("session-user").textContent = who.user;
  $("session-role").textContent = ROLES[who.role] || who.role;
  $("login").hidden = true;
  $("session").hidden = false;
  $("logout").focus();
}

function showLogin() {
  csrf = null;
  $("session").hidden = true;
  $("login").hidden = false;
  $("password").value = "";
}

async function login(ev) {
  ev.preventDefault();
  showError("");
  const user = $("user").value.trim();
  const password = $("password").value;
  if (!user || !password) {
    showError("Saisissez votre identifiant et votre mot de passe.");
    return;
  }
  $("login-submit").disabled = true;
  try {
    const r = await fetch("/v1/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ user, password }),
    });
    $("password").value = "";
    if (r.ok) {
      showSession(await r.json());
    } else if (r.status === 429) {
      showError("Trop d'essais : connexion bloquée pour quelques minutes.");
    } else {
      showError("Identifiant ou mot de passe incorrect.");
    }
  } catch (e) {
    showError("Le service ne répond pas. Réessayez.");
  } finally {
    $("login-submit").disabled = false;
  }
}

async function logout() {
  await fetch("/v1/session", {
    method: "DELETE",
    headers: { "X-CSRF-Token": csrf || "" },
    credentials: "same-origin",
  }).catch(() => {});
  showLogin();
}

async function whoami() {
  try {
    const r = await fetch("/v1/session", { credentials: "same-origin" });
    if (r.ok) showSession(await r.json());
  } catch (e) {
    /* not logged in: the form stays */
  }
}

if (new URLSearchParams(location.search).get("fin"))
  showError("Votre session a pris fin : reconnectez-vous.");
$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
whoami();
