// SPDX-License-Identifier: AGPL-3.0-or-later
// auditor.js - the audit page's only script (a module from 'self': the
// Content-Security-Policy allows no inline script).  For a message: its
// metadata and signed receipts (GET /v1/messages/{id}: an auditor's
// session never gets a payload, and this page would not show one), the
// witness state of the broker's checkpoints (GET /v1/health), and the
// trail of who read what (GET /v1/trail, paged), each entry's inclusion
// proof (GET /v1/trail/proof) checked here with WebCrypto SHA-256: the
// leaf hash SHA-256(0x00 || leaf), then the RFC 9162 path with
// SHA-256(0x01 || left || right), must give the root of the signed
// checkpoint.  Nothing here writes; no content is ever put in the page.
// window.egideAudit exposes the verifier (for tests and the curious).

const $ = (id) => document.getElementById(id);
const ROLES = { agent: "agent", supervisor: "encadrement", auditor: "audit", admin: "administration",
                machine: "jeton machine", unknown: "inconnu" };
const ACTIONS = {
  "message.open": "a ouvert le contenu", "message.send": "a envoyé", "message.ack": "a accusé réception",
  "case.view": "a consulté le dossier", "export.olinpe": "a exporté (ONPE)", login: "connexion",
  "login.failed": "connexion refusée", "login.locked": "connexion bloquée", logout: "déconnexion",
  "user.add": "a créé un compte", "user.disable": "a désactivé un compte",
  "user.enable": "a réactivé un compte", "user.passwd": "a changé un mot de passe",
};
const KINDS = { ACCEPTED: "accepté par le courtier", DELIVERED: "remis", REJECTED: "refusé",
                EXPIRED: "expiré", ACKNOWLEDGED: "accusé" };
const PAGE = 50;
let query = { message: "", account: "" };
let nextAfter = null;

// ---------------------------------------------------------------- helpers

function fmtTime(ms) {
  if (typeof ms !== "number") return "";
  return new Date(ms).toLocaleString("fr-FR", { timeZone: "Europe/Paris" });
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function b64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function equal(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

async function getJSON(path) {
  const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  return { status: r.status, body };
}

// ---------------------------------------------------------------- Merkle

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

async function leafHash(leaf) {
  const b = new Uint8Array(leaf.length + 1);
  b[0] = 0;
  b.set(leaf, 1);
  return sha256(b);
}

async function nodeHash(l, r) {
  const b = new Uint8Array(65);
  b[0] = 1;
  b.set(l, 1);
  b.set(r, 33);
  return sha256(b);
}

// RFC 9162 2.1.3.2: the root that leaf hash lh at index gives with proof
// in a tree of size leaves, or null when the proof cannot be one.
async function rootFromPath(lh, index, size, proof) {
  let fn = BigInt(index), sn = BigInt(size) - 1n;
  if (fn > sn) return null;
  let r = lh;
  for (const p of proof) {
    if (sn === 0n || p.length !== 32) return null;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

// The checkpoint note's tree size and root (c2sp.org/tlog-checkpoint:
// origin, size, base64 root, then the signatures).
function parseCheckpoint(note) {
  const lines = String(note || "").split("\n");
  if (lines.length < 4 || !/^[0-9]+$/.test(lines[1])) return null;
  const root = b64(lines[2]);
  return root.length === 32 ? { origin: lines[0], size: BigInt(lines[1]), root } : null;
}

// Checks an answer of GET /v1/trail/proof entirely in the browser:
// { ok, reason }.
async function verifyProof(p) {
  try {
    if (!window.crypto || !crypto.subtle) return { ok: false, reason: "WebCrypto indisponible (page non sécurisée)" };
    const cp = parseCheckpoint(p.checkpoint);
    if (!cp) return { ok: false, reason: "point de contrôle illisible" };
    if (cp.size !== BigInt(p.tree_size)) return { ok: false, reason: "taille d'arbre différente du point de contrôle" };
    const leaf = b64(p.leaf);
    const lh = await leafHash(leaf);
    if (!equal(lh, b64(p.leaf_hash))) return { ok: false, reason: "l'empreinte de l'entrée ne correspond pas" };
    // The entry shown is the leaf that was hashed.
    const e = JSON.parse(new TextDecoder().decode(leaf));
    if (e.account !== p.entry.account || e.action !== p.entry.action ||
        (e.msg_id || "") !== (p.entry.msg_id || "") || e.time_ms !== p.entry.time_ms)
      return { ok: false, reason: "l'entrée affichée n'est pas celle du journal" };
    const root = await rootFromPath(lh, p.index, p.tree_size, (p.proof || []).map(b64));
    if (!root || !equal(root, cp.root)) return { ok: false, reason: "le chemin ne redonne pas la racine signée" };
    return { ok: true, reason: "" };
  } catch (err) {
    return { ok: false, reason: "preuve mal formée" };
  }
}

let lastProof = null;

async function showProof(index, statusCell) {
  const res = $("proof-result");
  res.textContent = "Vérification de l'entrée n° " + index + "…";
  const r = await getJSON("/v1/trail/proof?index=" + encodeURIComponent(index));
  if (r.status !== 200 || !r.body) {
    res.textContent = "Preuve indisponible (" + r.status + ").";
    res.className = "bad";
    return;
  }
  lastProof = r.body;
  await checkAndShow(r.body, statusCell);
}

async function checkAndShow(p, statusCell) {
  const v = await verifyProof(p);
  const res = $("proof-result");
  const text = v.ok ? "vérifiée" : "échec";
  res.textContent = "Preuve de l'entrée n° " + p.index + " : " + text +
    (v.ok ? " (racine du point de contrôle de " + p.tree_size + " entrées)" : " – " + v.reason);
  res.className = v.ok ? "ok" : "bad";
  res.dataset.result = text;
  if (statusCell) {
    statusCell.textContent = text;
    statusCell.classList.toggle("ok", v.ok);
    statusCell.classList.toggle("bad", !v.ok);
  }
  $("proof-checkpoint").textContent = p.checkpoint || "";
  return v;
}

// ---------------------------------------------------------------- screens

function showMessage(m) {
  // Only these fields: whatever else an answer holds is not shown.
  const meta = $("message-meta");
  meta.replaceChildren();
  const rows = [["Identifiant", m.id], ["Boîte", m.box === "inbox" ? "reçu" : "envoyé"],
                ["Type", m.type], ["Expéditeur", m.sender], ["Urgence", m.urgency],
                ["Créé", fmtTime(m.created_ms)], ["Reçu", fmtTime(m.received_ms)], ["État", m.state]];
  for (const [k, v] of rows) {
    if (v == null || v === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = String(v);
    meta.append(dt, dd);
  }
  const tb = $("receipts").tBodies[0];
  tb.replaceChildren();
  for (const rc of m.receipts || []) {
    const tr = document.createElement("tr");
    cell(tr, KINDS[rc.kind] || rc.kind);
    cell(tr, rc.issuer);
    cell(tr, rc.recipient || "");
    cell(tr, fmtTime(rc.time_ms));
    cell(tr, rc.audit_leaf_index == null ? "" : rc.audit_leaf_index);
    cell(tr, rc.verified ? "signature vérifiée" : "non vérifié", rc.verified ? "ok" : "bad");
    tb.appendChild(tr);
  }
  if (!tb.rows.length) {
    const tr = document.createElement("tr");
    cell(tr, "Aucun accusé de réception.").colSpan = 6;
    tb.appendChild(tr);
  }
  $("message").hidden = false;
}

async function loadWitness() {
  const r = await getJSON("/v1/health");
  const st = $("witness-state"), d = $("witness-detail");
  if (r.status !== 200 || !r.body) {
    st.textContent = "inconnu";
    return;
  }
  if (r.body.audit_alert) {
    st.textContent = "alerte";
    st.className = "bad";
    d.textContent = "Le dernier point de contrôle du courtier ne prolonge pas celui que ce nœud détient : " +
      "le journal du courtier a pu être réécrit.";
  } else {
    st.textContent = "concordant";
    st.className = "ok";
    d.textContent = "Courtier : " + (r.body.broker === "connected" ? "connecté" : r.body.broker || "?") + ".";
  }
}

function trailRow(e) {
  const tr = document.createElement("tr");
  tr.dataset.index = e.index;
  cell(tr, e.index);
  cell(tr, fmtTime(e.time_ms));
  cell(tr, e.account);
  cell(tr, ROLES[e.role] || e.role);
  cell(tr, (ACTIONS[e.action] || e.action) + (e.subject ? " (" + e.subject + ")" : ""));
  cell(tr, e.msg_id || "", "mono");
  cell(tr, e.case_id || "");
  const td = document.createElement("td");
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = "Vérifier";
  b.setAttribute("aria-label", "Vérifier la preuve de l'entrée n° " + e.index);
  const status = document.createElement("span");
  status.className = "proof-status";
  status.setAttribute("aria-live", "polite");
  b.addEventListener("click", () => showProof(e.index, status));
  td.append(b, " ", status);
  tr.appendChild(td);
  return tr;
}

async function loadTrail(reset) {
  const tb = $("trail-table").tBodies[0];
  if (reset) {
    tb.replaceChildren();
    nextAfter = null;
  }
  const params = new URLSearchParams({ limit: String(PAGE) });
  if (query.message) params.set("message", query.message);
  if (query.account) params.set("account", query.account);
  if (!reset && nextAfter != null) params.set("after", nextAfter);
  const r = await getJSON("/v1/trail?" + params.toString());
  if (r.status !== 200 || !r.body) {
    $("msg-error").textContent = r.status === 403 ? "Votre rôle ne permet pas de lire la trace."
                                                  : "La trace n'a pas pu être lue (" + r.status + ").";
    $("msg-error").hidden = false;
    return;
  }
  for (const e of r.body.entries || []) tb.appendChild(trailRow(e));
  nextAfter = r.body.next || null;
  $("trail-more").hidden = !nextAfter;
  $("trail-empty").hidden = tb.rows.length > 0;
  $("trail-scope").textContent = (query.message ? "Message " + query.message : "Tous les messages") +
    (query.account ? ", compte " + query.account : "") + " – " + tb.rows.length + " entrée(s) affichée(s) sur un journal de " +
    r.body.tree_size + ".";
}

async function search(ev) {
  if (ev) ev.preventDefault();
  const err = $("msg-error");
  err.hidden = true;
  const id = $("msg-id").value.trim().toLowerCase();
  const account = $("account").value.trim().toLowerCase();
  if (id && !/^[0-9a-f]{32}$/.test(id)) {
    err.textContent = "L'identifiant d'un message compte 32 caractères hexadécimaux (0-9, a-f).";
    err.hidden = false;
    $("msg-id").focus();
    return;
  }
  if (account && !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(account)) {
    err.textContent = "Un nom de compte : lettres minuscules, chiffres, « . », « _ » ou « - ».";
    err.hidden = false;
    $("account").focus();
    return;
  }
  query = { message: id, account };
  $("message").hidden = true;
  if (id) {
    const r = await getJSON("/v1/messages/" + id);
    if (r.status === 200 && r.body) {
      showMessage(r.body);
    } else if (r.status === 404) {
      err.textContent = "Aucun message " + id + " sur ce nœud (la trace est affichée quand même).";
      err.hidden = false;
    }
  }
  await loadTrail(true);
}

async function start() {
  const r = await getJSON("/v1/session");
  if (r.status !== 200 || !r.body) {
    $("need-login").hidden = false;
    return;
  }
  const who = r.body;
  $("who").textContent = "Connecté·e : " + who.user + " (" + (ROLES[who.role] || who.role) + ")";
  if (!["auditor", "supervisor", "admin"].includes(who.role)) {
    $("need-login-text").textContent = "Cette page est réservée aux rôles audit, encadrement et administration.";
    $("need-login").hidden = false;
    return;
  }
  $("screen").hidden = false;
  $("msg-form").addEventListener("submit", search);
  $("trail-more").addEventListener("click", () => loadTrail(false));
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("message");
  if (fromHash) $("msg-id").value = fromHash;
  await Promise.all([loadWitness(), search(null)]);
  $("msg-id").focus();
}

window.egideAudit = {
  verifyProof,
  checkAndShow,
  get lastProof() { return lastProof; },
  showProof,
};

start();
