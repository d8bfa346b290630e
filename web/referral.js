// SPDX-License-Identifier: AGPL-3.0-or-later
// referral.js - one received message as a readable document (every
// section of a referral: intake, children, adults, danger, processing),
// and the actions of this node on it, each one a catalogue message POSTed
// to /v1/messages (or /ack) with the CSRF token:
//   CRIP:      acknowledge, qualify (ip.qualification), assign to a territory
//              (evaluation.assignment, pre-filled from the directory's route),
//              refer to the parquet (parquet.saisine), feedback to the sender
//              (sender.feedback);
//   territory: acknowledge, the evaluation report (evaluation.report),
//              "misrouted" (routing.misrouted).
// An anonymous or confidential sender's identity is never shown.
import { shell, api, el, $, fmtTime, fmtDate, fmtLeft, isoNow, say, errText, node, TYPES, URGENCY,
  SENDER_TYPES, CHANNELS, SEX, LINKS, DANGER, ANSWER, STATES, OBLIG_STATES, REFERRALS } from "/assets/app.js";

const who = await shell("Message", ["agent", "supervisor"]);
const nodeRole = node().node_role;
const territoryNode = nodeRole === "tas" || nodeRole === "ase";
$("back").href = territoryNode ? "/territory.html" : "/crip.html";
const id = new URLSearchParams(location.search).get("id") || "";
const doc = $("doc");

function section(title, ...kids) {
  const h = el("h2", {}, title);
  return el("section", { class: "doc-section" }, h, ...kids);
}

// A definition list of [label, value] (values absent are left out).
function dl(pairs) {
  const d = el("dl", { class: "kv" });
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length)) continue;
    d.append(el("dt", {}, k), el("dd", {}, Array.isArray(v) ? v.join(", ") : v));
  }
  return d;
}

function address(a) {
  if (!a) return null;
  return [a.street, a.complement, [a.postal_code, a.city].filter(Boolean).join(" ")].filter(Boolean).join(", ");
}

function yesNo(b) { return b ? "oui" : "non"; }

function intake(p, m) {
  const s = p.sender || {};
  const hidden = s.anonymous || s.confidential;
  const pairs = [
    ["Reçu par l'émetteur le", fmtDate(p.received_at) + (p.received_at ? " " + p.received_at.slice(11, 16) : "")],
    ["Reçu par la cellule le", fmtTime(m.received_ms)],
    ["Canal", CHANNELS[p.channel] || p.channel],
    ["Type d'émetteur", SENDER_TYPES[s.type] || s.type],
    ["Nœud émetteur", m.sender],
  ];
  if (!hidden)
    pairs.push(["Organisme", s.organisation], ["Nom", s.name], ["Fonction", s.role], ["Téléphone", s.phone],
      ["Courriel", s.email], ["Référence de l'émetteur", s.reference]);
  else pairs.push(["Fonction", s.role]);
  pairs.push(["Parents informés", ANSWER[p.parents_informed] || "non précisé"]);
  if (p.snated_ref) pairs.push(["Dossier 119", p.snated_ref]);
  if (m.type === "snated.transmission") pairs.push(["Transmis aussi par téléphone", yesNo(p.phoned_to_crip)]);
  const kids = [dl(pairs)];
  if (hidden)
    kids.unshift(el("p", { class: "protected", id: "sender-protected" },
      s.anonymous ? "Émetteur anonyme : aucune identité n'est transmise."
        : "Émetteur confidentiel : son identité n'est pas affichée et ne doit pas être communiquée à la famille."));
  if (p.caller_account) kids.push(el("h3", {}, "Récit de l'appelant"), el("p", { class: "verbatim" }, p.caller_account));
  if (p.handler_assessment) kids.push(el("h3", {}, "Évaluation de l'écoutant"), el("p", {}, p.handler_assessment));
  if (p.routing_override)
    kids.push(el("p", { class: "notice" }, `Orientation forcée par l'émetteur : ${p.routing_override.reason}`));
  return section("Réception", ...kids);
}

function children(p) {
  const t = el("table", {}, el("caption", { class: "sr-only" }, "Enfants"),
    el("thead", {}, el("tr", {}, ...["Nom", "Prénoms", "Sexe", "Né·e le", "Commune (INSEE)", "Adresse", "École, classe"]
      .map((h) => el("th", { scope: "col" }, h)))));
  const tb = el("tbody");
  for (const c of p.children || [])
    tb.append(el("tr", {}, el("td", {}, c.surname || "—"), el("td", {}, (c.first_names || []).join(" ")),
      el("td", {}, SEX[c.sex] || c.sex || "—"), el("td", {}, fmtDate(c.birth_date)), el("td", {}, c.commune || "—"),
      el("td", {}, address(c.address) || "—"),
      el("td", {}, [c.school, c.school_class].filter(Boolean).join(", ") || "—")));
  t.append(tb);
  const kids = [el("div", { class: "table-wrap" }, t)];
  if ((p.other_minors || []).length)
    kids.push(el("h3", {}, "Autres mineurs au domicile"),
      el("ul", {}, ...p.other_minors.map((o) =>
        el("li", {}, `${o.first_name || "?"}, ${SEX[o.sex] || "sexe non précisé"}, né·e le ${fmtDate(o.birth_date)}`))));
  return section("Enfants", ...kids);
}

function adults(p) {
  const kids = [];
  for (const a of p.adults || []) {
    const flags = [a.parental_authority && "autorité parentale", a.lives_with_children && "vit avec les enfants",
      a.presumed_author && "auteur présumé"].filter(Boolean);
    kids.push(el("h3", {}, `${LINKS[a.link] || a.link} : ${[a.surname, (a.first_names || []).join(" ")].filter(Boolean).join(" ")}`),
      dl([["Nom de naissance", a.birth_surname], ["Né·e le", a.birth_date && fmtDate(a.birth_date)],
        ["Adresse", address(a.address)], ["Téléphone", a.phone], ["Situation", flags]]));
  }
  if (!kids.length) kids.push(el("p", {}, "Aucun adulte renseigné."));
  if (p.household) kids.push(el("h3", {}, "Composition du foyer"), el("p", {}, p.household));
  return section("Adultes", ...kids);
}

function danger(p, m) {
  const d = p.danger || {};
  const kids = [dl([["Catégories", (d.categories || []).map((c) => DANGER[c] || c)],
    ["Urgence", URGENCY[p.urgency] || URGENCY[m.urgency] || p.urgency],
    ["Données de santé", d.health_data ? "oui (accès restreint)" : "non"]])];
  if ((d.facts || []).length) {
    kids.push(el("h3", {}, "Faits constatés ou propos rapportés"));
    kids.push(el("ul", { class: "facts" }, ...d.facts.map((f) =>
      el("li", {}, el("strong", {}, fmtDate(f.date)), f.reported_by ? ` (${f.reported_by})` : "", " : ",
        el("q", {}, f.account || "")))));
  }
  if (d.assessment) kids.push(el("h3", {}, "Appréciation de l'émetteur"), el("p", {}, d.assessment));
  if ((p.attachments || []).length)
    kids.push(el("h3", {}, "Pièces jointes"), el("ul", {}, ...p.attachments.map((a) =>
      el("li", {}, `${a.name || "sans nom"} (${a.media_type || "?"}, ${Math.ceil((a.size_bytes || 0) / 1024)} Kio)`,
        a.health_data ? el("span", { class: "badge warn" }, "santé") : null))));
  return section("Danger", ...kids);
}

function processing(c) {
  if (!c) return section("Suivi", el("p", {}, "Aucun dossier rattaché."));
  const msgs = [...(c.inbox || []).map((x) => ({ ...x, dir: "reçu" })), ...(c.outbox || []).map((x) => ({ ...x, dir: "envoyé" }))]
    .sort((a, b) => (a.received_ms || a.created_ms) - (b.received_ms || b.created_ms));
  const list = el("ol", { class: "timeline", id: "case-timeline" }, ...msgs.map((x) =>
    el("li", { "data-type": x.type }, el("strong", {}, TYPES[x.type] || x.type), ` – ${x.dir} le ${fmtTime(x.received_ms || x.created_ms)}`,
      x.dir === "reçu" ? ` de ${x.sender}` : ` à ${(x.recipients || []).map((r) => r.node || r).join(", ")}`,
      ` (${STATES[x.state] || x.state})`)));
  const ob = el("table", { id: "case-obligations" }, el("caption", {}, "Échéances du dossier"),
    el("thead", {}, el("tr", {}, ...["Échéance", "Qui doit agir", "Échue le", "État"].map((h) => el("th", { scope: "col" }, h)))));
  const tb = el("tbody");
  for (const o of c.obligations || []) {
    const st = o.overdue ? "overdue" : o.state;
    tb.append(el("tr", { "data-name": o.name, "data-state": st }, el("td", {}, o.label || o.name, el("small", { class: "block" }, o.source || "")),
      el("td", {}, o.actor), el("td", {}, fmtTime(o.due_ms)),
      el("td", {}, el("span", { class: "badge " + (st === "overdue" ? "bad" : st === "open" ? "warn" : "ok") },
        OBLIG_STATES[st] || st), st === "open" || st === "overdue" ? " " + fmtLeft(o.due_ms) : ` le ${fmtTime(o.closed_ms)}`)));
  }
  if (!tb.children.length) tb.append(el("tr", {}, el("td", { colspan: 4 }, "Aucune échéance.")));
  ob.append(tb);
  return section("Suivi", dl([["Dossier", c.ref || `n° ${c.id}`], ["État des échéances",
    { overdue: "en retard", open: "en cours", closed: "clos", none: "aucune" }[c.state] || c.state]]),
  el("p", { id: "case-state", "data-state": c.state, class: "badge " + (c.state === "closed" ? "ok" : c.state === "overdue" ? "bad" : "") },
    c.state === "closed" ? "Échéances closes" : c.state === "overdue" ? "Échéance dépassée" : c.state === "open" ? "Échéance en cours" : "Sans échéance"),
  list, el("div", { class: "table-wrap" }, ob));
}

function generic(p) {
  const pairs = [];
  for (const [k, v] of Object.entries(p)) {
    if (k === "children" || typeof v === "object") continue;
    pairs.push([k.replace(/_/g, " "), String(v)]);
  }
  return section("Contenu", dl(pairs));
}

function assignment(p) {
  return section("Demande d'évaluation", dl([["Territoire", p.territory], ["Dossier", p.case_ref],
    ["IP reçue le", fmtDate(p.ip_received_at)], ["Affectée le", fmtDate(p.assigned_at)],
    ["Évaluateurs", p.evaluators], ["Urgence", URGENCY[p.urgency] || p.urgency], ["Consignes", p.instructions]]));
}

// ---- forms ----

let fieldSeq = 0;
function field(label, input, hint) {
  const fid = input.id || `f${++fieldSeq}`;
  input.id = fid;
  return el("div", { class: "field" }, el("label", { for: fid }, label), hint ? el("small", { class: "block" }, hint) : null, input);
}
function text(name, value, attrs = {}) { return el("input", { type: "text", name, value: value || "", ...attrs }); }
function area(name, value, attrs = {}) { const t = el("textarea", { name, rows: 3, ...attrs }); t.value = value || ""; return t; }
function select(name, options, value, attrs = {}) {
  const s = el("select", { name, ...attrs });
  for (const [v, l] of Object.entries(options)) s.append(el("option", { value: v, selected: v === value }, l));
  return s;
}
function check(label, name, checked) {
  const c = el("input", { type: "checkbox", name, id: `f${++fieldSeq}`, checked });
  return el("div", { class: "field check" }, c, el("label", { for: c.id }, label));
}

// A collapsible action: its form, and what to POST when submitted.
function action(key, title, build, submit) {
  const form = el("form", { id: `form-${key}`, novalidate: true });
  build(form);
  form.append(el("button", { type: "submit", id: `submit-${key}` }, title));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const b = form.querySelector("button[type=submit]");
    b.disabled = true;
    say("action-result", "", true);
    delete $("action-result").dataset.done;
    try {
      const r = await submit(new FormData(form), form);
      say("action-result", "", true);
      await render(); /* the case as it is now; then the result, announced */
      say("action-result", `${title} : envoyé (message ${r.id || id}).`, true);
      $("action-result").dataset.done = key;
    } catch (e) {
      say("action-result", errText(e));
    } finally {
      b.disabled = false;
    }
  });
  return el("details", { class: "action", id: `action-${key}` }, el("summary", {}, title), form);
}

function post(body) { return api("POST", "/v1/messages", body); }
function caseRef(c, p) {
  return (p && p.case_ref) || (c && c.ref) || `CRIP${(node().node || "").split(".")[0]}-${new Date().getFullYear()}-${String(c ? c.id : 0).padStart(4, "0")}`;
}

async function cripActions(m, p, c) {
  const out = [];
  const ref = caseRef(c, p);
  const route = p.children && p.children[0] && p.children[0].commune
    ? await api("GET", "/v1/route?commune=" + encodeURIComponent(p.children[0].commune)).catch(() => null) : null;
  out.push(action("qualify", "Qualifier", (f) => {
    f.append(field("Référence du dossier", text("case_ref", ref, { required: true, maxlength: 63 })),
      field("Qualification", select("qualification", { information_preoccupante: "Information préoccupante",
        not_ip: "Pas une information préoccupante", already_known: "Situation déjà connue",
        parquet_referral: "Danger grave : saisine du parquet", other_department: "Autre département" }, "information_preoccupante")),
      field("Urgence retenue", select("urgency", URGENCY, p.urgency || m.urgency)),
      check("Enfant déjà connu de la cellule", "known", false),
      field("Suite donnée (pour l'émetteur)", area("next_step", "")));
  }, (d) => post({ type: "ip.qualification", to: [m.sender], in_reply_to: id, payload: {
    decided_at: isoNow(), case_ref: d.get("case_ref"), qualification: d.get("qualification"),
    child_already_known: d.get("known") === "on", next_step: d.get("next_step") || undefined, urgency: d.get("urgency") } })));
  out.push(action("assign", "Affecter à un territoire", (f) => {
    f.append(field("Territoire", text("territory", route ? route.territory : "", { required: true, id: "assign-territory" }),
      route ? `Selon l'annuaire pour la commune ${route.commune}${route.name ? " (" + route.name + ")" : ""} : ${route.territory_name || route.territory}` : "Aucune route connue pour cette commune."),
    field("Motif si le territoire diffère de l'annuaire", text("reason", "", { maxlength: 300 })),
    field("Référence du dossier", text("case_ref", ref, { required: true, maxlength: 63 })),
    field("Évaluateurs (un par ligne, si déjà désignés)", area("evaluators", "")),
    field("Urgence", select("urgency", URGENCY, p.urgency || m.urgency)),
    field("Consignes aux évaluateurs", area("instructions", "")));
  }, (d) => {
    const terr = d.get("territory").trim();
    const body = { type: "evaluation.assignment", in_reply_to: id, payload: {
      assigned_at: isoNow(), ip_received_at: new Date(m.received_ms).toISOString().replace(/\.\d{3}Z$/, "Z"),
      case_ref: d.get("case_ref"), territory: terr, children: p.children, other_minors: p.other_minors,
      evaluators: d.get("evaluators").split("\n").map((x) => x.trim()).filter(Boolean),
      urgency: d.get("urgency"), instructions: d.get("instructions") || undefined } };
    if (route && terr !== route.territory) {
      // Another territory than the directory's: sent to it by name, the
      // reason written in the payload (signed and sealed with it).
      if (!d.get("reason").trim()) throw new Error("Motif requis : le territoire diffère de l'annuaire.");
      body.to = [terr];
      body.payload.routing_override = { reason: d.get("reason").trim(), commune: route.commune };
    }
    return post(body);
  }));
  out.push(action("parquet", "Saisir le parquet", (f) => {
    f.append(field("Parquet", text("parquet", route ? route.parquet || "" : "", { required: true })),
      field("Référence du dossier", text("case_ref", ref, { required: true })),
      el("fieldset", {}, el("legend", {}, "Motifs (L226-4 I)"),
        check("Danger grave et immédiat", "g_grave_immediate_danger", true),
        check("Échec des actions administratives", "g_administrative_action_failed", false),
        check("Refus de la famille", "g_family_refusal", false),
        check("Évaluation impossible", "g_evaluation_impossible", false)),
      field("Actions déjà menées", area("actions_taken", "", { required: true })),
      field("Urgence", select("urgency", URGENCY, p.urgency || m.urgency)));
  }, (d) => post({ type: "parquet.saisine", to: [d.get("parquet").trim()], in_reply_to: id, payload: {
    sent_at: isoNow(), case_ref: d.get("case_ref"),
    grounds: ["grave_immediate_danger", "administrative_action_failed", "family_refusal", "evaluation_impossible"].filter((g) => d.get("g_" + g) === "on"),
    actions_taken: d.get("actions_taken"), children: p.children, adults: p.adults, danger: p.danger, urgency: d.get("urgency") } })));
  out.push(action("feedback", "Retour à l'émetteur", (f) => {
    f.append(field("Référence du dossier", text("case_ref", ref, { required: true })),
      field("Suite", select("outcome", { received: "Reçue, en cours de traitement", evaluation_under_way: "Évaluation en cours",
        measure_decided: "Mesure décidée", parquet_referral: "Parquet saisi", closed: "Classée" }, "received")),
      field("Message (jamais le contenu de l'évaluation)", area("message", "")));
  }, (d) => post({ type: "sender.feedback", to: [m.sender], in_reply_to: id, payload: {
    sent_at: isoNow(), case_ref: d.get("case_ref"), sender_ref: p.snated_ref || (p.sender && p.sender.reference) || undefined,
    outcome: d.get("outcome"), message: d.get("message") || undefined } })));
  return out;
}

async function territoryActions(m, p, c) {
  const out = [];
  const ref = caseRef(c, p);
  // "Misrouted" goes to the department's CRIP (the sender of an assignment;
  // for a referral received directly, the CRIP of the child's commune).
  const commune = p.children && p.children[0] && p.children[0].commune;
  const route = m.type !== "evaluation.assignment" && commune
    ? await api("GET", "/v1/route?commune=" + encodeURIComponent(commune)).catch(() => null) : null;
  const crip = m.type === "evaluation.assignment" ? m.sender : (route && route.crip) || m.sender;
  if (m.type === "evaluation.assignment" && m.state === "delivered")
    out.push(action("pair", "Accuser réception et désigner le binôme", (f) => {
      f.append(field("Premier évaluateur", text("w1", (p.evaluators || [])[0] || "", { required: true, maxlength: 120, id: "pair-1" })),
        field("Second évaluateur", text("w2", (p.evaluators || [])[1] || "", { required: true, maxlength: 120, id: "pair-2" })));
    }, (d) => {
      if (!d.get("w1").trim() || !d.get("w2").trim()) throw new Error("Nommez les deux évaluateurs du binôme.");
      return api("POST", `/v1/messages/${id}/ack`, { note: `Binôme désigné : ${d.get("w1").trim()} et ${d.get("w2").trim()}` });
    }));
  if (m.type === "evaluation.assignment")
    out.push(action("escalate", "Alerter la cellule (danger grave, enfant non rencontré)", (f) => {
      f.append(field("Motif", select("reason", { serious_danger: "Danger grave", child_not_met: "Enfant non rencontré",
        family_refusal: "Refus de la famille" }, "serious_danger")),
      field("Faits", area("facts", "", { required: true, id: "escalate-facts" })),
      field("Urgence", select("urgency", URGENCY, "immediate")));
    }, (d) => post({ type: "evaluation.escalation", to: [m.sender], in_reply_to: id, payload: {
      escalated_at: isoNow(), case_ref: ref, reason: d.get("reason"), facts: d.get("facts"), urgency: d.get("urgency") } })));
  if (m.type === "evaluation.assignment")
    out.push(action("report", "Envoyer le rapport d'évaluation", (f) => {
      f.append(field("Référence du dossier", text("case_ref", ref, { required: true })),
        field("Évaluateurs (un par ligne)", area("evaluators", (p.evaluators || []).join("\n"), { required: true, id: "report-evaluators" })),
        field("Conclusion commune", select("conclusion", { closure: "Classement (avec orientation éventuelle)",
          administrative_measure: "Mesure administrative", judicial_referral: "Saisine motivée de l'autorité judiciaire" }, "administrative_measure",
        { id: "report-conclusion" })),
        field("Motivation", area("reasons", "", { required: true, id: "report-reasons", rows: 5 })),
        field("Mesures proposées", area("proposed_measures", "", { id: "report-measures" })),
        check("Tous les enfants ont été rencontrés", "child_met", true),
        check("Les parents ont été rencontrés", "parents_met", true));
    }, (d) => post({ type: "evaluation.report", to: [m.sender], in_reply_to: id, payload: {
      completed_at: isoNow(), ip_received_at: p.ip_received_at, case_ref: d.get("case_ref"),
      evaluators: d.get("evaluators").split("\n").map((x) => x.trim()).filter(Boolean),
      children: p.children, conclusion: d.get("conclusion"), reasons: d.get("reasons"),
      proposed_measures: d.get("proposed_measures") || undefined, child_met: d.get("child_met") === "on",
      parents_met: d.get("parents_met") === "on" } })));
  out.push(action("misrouted", "Signaler une erreur d'orientation", (f) => {
    f.append(field("Raison", select("reason", { wrong_commune: "Commune erronée", wrong_territory: "Autre territoire compétent",
      other: "Autre" }, "wrong_territory")),
    field("Explication", area("reason_text", "", { required: true })),
    field("Commune correcte (INSEE), si connue", text("believed_commune", "", { maxlength: 5, pattern: "[0-9AB]{5}" })),
    field("Territoire compétent, si connu", text("believed_territory", "")));
  }, (d) => post({ type: "routing.misrouted", to: [crip], in_reply_to: id, payload: {
    reported_at: isoNow(), case_ref: ref, received_msg_id: id, reason: d.get("reason"), reason_text: d.get("reason_text"),
    believed_commune: d.get("believed_commune") || undefined, believed_territory: d.get("believed_territory") || undefined } })));
  return out;
}

async function render() {
  let m, c = null;
  try {
    m = await api("GET", "/v1/messages/" + encodeURIComponent(id));
    if (m.case_id) c = await api("GET", "/v1/cases/" + m.case_id).catch(() => null);
  } catch (e) {
    say("doc-status", errText(e));
    return;
  }
  const p = m.payload || {};
  $("doc-title").textContent = `${TYPES[m.type] || m.type}${p.case_ref ? " – " + p.case_ref : ""}`;
  const parts = [dl([["Reçu le", fmtTime(m.received_ms)], ["De", m.sender], ["Urgence", URGENCY[m.urgency] || m.urgency],
    ["État", STATES[m.state] || m.state], ["Accusé le", m.acknowledged_ms && fmtTime(m.acknowledged_ms)]])];
  if (REFERRALS.includes(m.type) || p.danger) parts.push(intake(p, m), children(p), adults(p), danger(p, m));
  else if (m.type === "evaluation.assignment") parts.push(assignment(p), children(p));
  else parts.push(generic(p), p.children ? children(p) : null);
  parts.push(processing(c));
  doc.replaceChildren(...parts.filter(Boolean));
  const list = [];
  if (m.state === "delivered" && m.type !== "message.acknowledgement") {
    const b = el("button", { type: "button", id: "ack" }, "Accuser réception");
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await api("POST", `/v1/messages/${id}/ack`, {});
        say("action-result", "", true);
        await render();
        say("action-result", "Accusé de réception envoyé.", true);
      } catch (e) {
        say("action-result", errText(e));
        b.disabled = false;
      }
    });
    list.push(el("p", {}, b));
  }
  if (!territoryNode && REFERRALS.includes(m.type)) list.push(...await cripActions(m, p, c));
  if (territoryNode && (m.type === "evaluation.assignment" || REFERRALS.includes(m.type))) list.push(...await territoryActions(m, p, c));
  $("action-list").replaceChildren(...list);
  $("actions").hidden = !list.length || !["agent", "supervisor"].includes(who.role);
}

await render();
