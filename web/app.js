// SPDX-License-Identifier: AGPL-3.0-or-later
// app.js - what every page after login shares: the session (the cookie is
// HttpOnly; the page keeps the CSRF token in memory only), the API calls
// (same origin, the token on every change), the shell (header with the
// node's name, the account, its role, logout; the navigation by role), and
// the French labels of the catalogue's codes.  No inline script, no
// resource outside the edge (Content-Security-Policy: default-src 'self').

export const ROLES = { agent: "agent", supervisor: "encadrement", auditor: "audit", admin: "administration" };

export const TYPES = {
  "ip.transmission": "Information préoccupante",
  "snated.transmission": "Transmission du 119",
  "ip.qualification": "Qualification",
  "parquet.direct_signalement": "Signalement direct au parquet",
  "parquet.soit_transmis": "Soit-transmis du parquet",
  "parquet.saisine": "Saisine du parquet",
  "parquet.feedback": "Retour du parquet",
  "evaluation.assignment": "Demande d'évaluation",
  "evaluation.information_request": "Demande d'informations",
  "evaluation.escalation": "Alerte en cours d'évaluation",
  "evaluation.report": "Rapport d'évaluation",
  "sender.feedback": "Retour à l'émetteur",
  "department.transfer": "Transmission à un autre département",
  "ase.emergency_reception": "Accueil d'urgence",
  "court.opp": "Ordonnance de placement provisoire",
  "court.decision": "Décision du juge des enfants",
  "ase.situation_report": "Rapport de situation",
  "ase.incident": "Incident",
  "message.acknowledgement": "Accusé de réception",
  "routing.misrouted": "Erreur d'orientation",
};
export const REFERRALS = ["ip.transmission", "snated.transmission", "parquet.soit_transmis",
  "parquet.direct_signalement"];
export const URGENCY = { normal: "normale", urgent: "urgente", immediate: "immédiate" };
export const SENDER_TYPES = {
  individual: "particulier", snated: "119 (SNATED)", education: "Éducation nationale",
  health: "santé", police: "police / gendarmerie", parquet: "parquet", internal: "services du département",
  association: "association / autre professionnel",
};
export const CHANNELS = { phone: "téléphone", email: "courriel", letter: "courrier", in_person: "en personne",
  platform: "plateforme" };
export const SEX = { female: "fille", male: "garçon", unknown: "inconnu" };
export const LINKS = { mother: "mère", father: "père", step_parent: "beau-parent", guardian: "tuteur",
  grandparent: "grand-parent", other_relative: "autre membre de la famille", third_party: "tiers" };
export const DANGER = {
  psychological_violence: "violences psychologiques", physical_violence: "violences physiques",
  sexual_violence: "violences sexuelles", severe_neglect: "négligences lourdes",
  domestic_violence: "exposition aux violences conjugales",
  compromised_education: "conditions d'éducation compromises",
  self_endangering_behaviour: "comportements de mise en danger",
};
export const ANSWER = { yes: "oui", no: "non", unknown: "ne sait pas" };
export const STATES = { delivered: "reçu", acknowledged: "accusé", queued: "en attente", accepted: "accepté",
  rejected: "refusé", expired: "expiré", partly_rejected: "refusé en partie", partly_expired: "expiré en partie" };
export const OBLIG_STATES = { open: "en cours", overdue: "en retard", met: "respectée", late: "tenue en retard",
  released: "libérée" };

let session = null;
let health = null;

export const $ = (id) => document.getElementById(id);

// An element: el("td", {class: "x"}, "text", child...).  Text is always
// text (textContent), never HTML.
export function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

export function fmtTime(ms) {
  if (!ms) return "—";
  return new Date(ms).toLocaleString("fr-FR", { dateStyle: "short", timeStyle: "short" });
}

export function fmtDate(s) {
  if (!s) return "—";
  const d = new Date(s.length === 10 ? s + "T12:00:00" : s);
  return isNaN(d) ? s : d.toLocaleDateString("fr-FR");
}

// "dans 3 j 4 h", "en retard de 2 j": the time left to due_ms.
export function fmtLeft(due, now = Date.now()) {
  const d = due - now, a = Math.abs(d);
  const days = Math.floor(a / 86400000), hours = Math.floor((a % 86400000) / 3600000);
  const txt = days ? `${days} j ${hours} h` : `${hours} h ${Math.floor((a % 3600000) / 60000)} min`;
  return d < 0 ? `en retard de ${txt}` : `reste ${txt}`;
}

export function isoNow() {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

// An API refusal: the body is an RFC 9457 problem (detail, code, errors).
export class ApiError extends Error {
  constructor(status, body) {
    const p = body && typeof body === "object" ? body : {};
    super(typeof p.detail === "string" && p.detail ? p.detail : `erreur ${status}`);
    this.status = status;
    this.code = typeof p.code === "string" ? p.code : "";
    this.details = Array.isArray(p.errors) ? p.errors : [];
  }
}

// One API call: JSON in and out, same origin, the CSRF token on every
// change.  A 401 (session ended) sends the browser to the login page.
export async function api(method, path, body) {
  const h = {};
  if (body !== undefined) h["Content-Type"] = "application/json";
  if (method !== "GET" && session) h["X-CSRF-Token"] = session.csrf_token;
  const r = await fetch(path, { method, headers: h, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body) });
  let j = null;
  try { j = await r.json(); } catch (e) { j = null; }
  if (r.status === 401 && path !== "/v1/session") {
    location.assign("/login?fin=1");
    throw new ApiError(401, j);
  }
  if (!r.ok) throw new ApiError(r.status, j);
  return j;
}

export function me() { return session; }
export function node() { return health || {}; }

// The home page of an account on this node.
export function homeOf(role, nodeRole) {
  if (role === "auditor") return "/auditor.html";
  if (role === "admin") return "/it.html";
  return nodeRole === "tas" || nodeRole === "ase" ? "/territory.html" : "/crip.html";
}

function navItems(role, nodeRole) {
  const items = [];
  if (role === "agent" || role === "supervisor") {
    if (nodeRole === "tas" || nodeRole === "ase") items.push(["/territory.html", "Affectations"]);
    else items.push(["/crip.html", "File d'attente"]);
    items.push(["/deadlines.html", "Échéances"]);
  }
  if (role === "auditor") items.push(["/auditor.html", "Audit"]);
  items.push(["/it.html", "Informatique"]);
  return items;
}

// Draws the shell and returns the session, or sends the browser to the
// login page.  allowed: the roles this page is for.
export async function shell(title, allowed) {
  try {
    const r = await fetch("/v1/session", { credentials: "same-origin", cache: "no-store" });
    if (!r.ok) throw new Error("no session");
    session = await r.json();
  } catch (e) {
    location.assign("/login");
    throw e;
  }
  try {
    health = await (await fetch("/v1/health", { cache: "no-store" })).json();
  } catch (e) {
    health = {};
  }
  const header = $("shell");
  header.replaceChildren(
    el("a", { class: "skip", href: "#main" }, "Aller au contenu"),
    el("div", { class: "brand" },
      el("p", { class: "app" }, "Égide"),
      el("p", { class: "node", id: "node-name" }, health.node_name || health.node || "")),
    el("div", { class: "who" },
      el("span", { id: "who-user" }, session.user), " · ",
      el("span", { id: "who-role" }, ROLES[session.role] || session.role), " ",
      el("button", { id: "logout", type: "button", class: "secondary" }, "Se déconnecter")));
  const nav = el("nav", { "aria-label": "Navigation principale" });
  const ul = el("ul");
  for (const [href, label] of navItems(session.role, health.node_role)) {
    const a = el("a", { href }, label);
    if (location.pathname === href) a.setAttribute("aria-current", "page");
    ul.append(el("li", {}, a));
  }
  nav.append(ul);
  header.append(nav);
  $("logout").addEventListener("click", async () => {
    await api("DELETE", "/v1/session").catch(() => {});
    location.assign("/login");
  });
  document.title = `${title} – Égide`;
  if (allowed && !allowed.includes(session.role)) {
    $("main").replaceChildren(el("h1", {}, title),
      el("p", { class: "error", role: "alert" }, "Cette page n'est pas ouverte à votre rôle."));
    throw new Error("role");
  }
  return session;
}

// Shows a result (ok) or an error in a live region.
export function say(region, text, ok) {
  const r = typeof region === "string" ? $(region) : region;
  r.textContent = text;
  r.className = ok ? "notice ok" : "notice error";
  r.hidden = !text;
}

export function errText(e) {
  if (e instanceof ApiError) {
    const d = e.details && e.details.length ? ` (${e.details.join(" ; ")})` : "";
    return `Refusé : ${e.message}${d}`;
  }
  if (e && e.message && !(e instanceof TypeError)) return e.message;
  return "Le service ne répond pas. Réessayez.";
}
