// SPDX-License-Identifier: AGPL-3.0-or-later
// it.js - the IT screen: connection to the broker, queue depths, the
// directory's version and expiry, this node's certificate expiry, clock
// (GET /v1/health, which holds no content).
import { shell, el, $, fmtTime, say } from "/assets/app.js";

await shell("Informatique");
const DAY = 86400000;
const BROKER = { connected: "connecté", disconnected: "déconnecté", refused: "refusé par le courtier" };
const RCPT = { queued: "en attente", accepted: "acceptés", delivered: "remis", acknowledged: "accusés",
  rejected: "refusés", expired: "expirés" };

function expiry(ms) {
  if (!ms) return [el("span", { class: "badge" }, "inconnue")];
  const days = Math.floor((ms - Date.now()) / DAY);
  const cls = days < 0 ? "bad" : days < 30 ? "warn" : "ok";
  return [el("span", { class: "badge " + cls }, days < 0 ? "expiré" : `${days} j restants`), " ", fmtTime(ms)];
}

function card(id, title, ...kids) {
  return el("section", { class: "doc-section", id }, el("h2", {}, title), ...kids);
}

async function load() {
  let h;
  try {
    h = await (await fetch("/v1/health", { cache: "no-store" })).json();
  } catch (e) {
    say("it-status", "Le nœud ne répond pas.");
    return;
  }
  const rc = h.outbox_recipients || {};
  $("it-cards").replaceChildren(
    card("it-node", "Nœud", el("p", {}, el("strong", {}, h.node_name || h.node)), el("p", {}, `${h.node} (rôle ${h.node_role || "?"})`),
      el("p", {}, "État : ", el("span", { class: "badge " + (h.status === "ok" ? "ok" : "bad"), id: "it-overall" }, h.status))),
    card("it-broker", "Courtier", el("p", {}, el("span", { class: "badge " + (h.broker === "connected" ? "ok" : "bad"), id: "it-broker-state" },
      BROKER[h.broker] || h.broker)), h.certificate ? el("p", { class: "error" }, h.certificate) : null,
    h.sequence ? el("p", { class: "error" }, h.sequence) : null),
    card("it-queues", "Files", el("dl", { class: "kv" }, el("dt", {}, "Messages en attente d'envoi"), el("dd", { id: "it-pending" }, String(h.outbox_pending)),
      el("dt", {}, "Messages reçus"), el("dd", {}, String(h.inbox)),
      ...Object.entries(rc).flatMap(([k, v]) => [el("dt", {}, `Destinataires ${RCPT[k] || k}`), el("dd", {}, String(v))]))),
    card("it-directory", "Annuaire", el("p", {}, `Version ${h.directory_version}`), el("p", { id: "it-dir-expiry" }, "Expire : ", ...expiry(h.directory_not_after_ms))),
    card("it-cert", "Certificat du nœud", el("p", { id: "it-cert-expiry" }, "Expire : ", ...expiry(h.certificate_not_after_ms))),
    card("it-clock", "Horloge", el("p", {}, h.clock && h.clock.status === "ok" ? "synchronisée" : `décalée de ${(h.clock || {}).offset_ms} ms`),
      h.audit_alert ? el("p", { class: "error" }, `Alerte d'audit : ${h.audit_alert}`) : null));
  say("it-status", `Actualisé le ${fmtTime(Date.now())}.`, true);
}
$("it-refresh").addEventListener("click", load);
await load();
