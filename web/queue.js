// SPDX-License-Identifier: AGPL-3.0-or-later
// queue.js - the queue table (GET /v1/queue: the inbox with triage facts,
// never a name), with cursor paging.  Used by the CRIP's and the
// territories' pages.
import { api, el, fmtTime, fmtLeft, TYPES, URGENCY, SENDER_TYPES, STATES, OBLIG_STATES, say, errText }
  from "/assets/app.js";

const AGE = { "0-2": "moins de 2 ans", "2-5": "2-5 ans", "6-10": "6-10 ans", "11-14": "11-14 ans",
  "15-17": "15-17 ans", "18+": "18 ans et plus" };

function clockCell(c) {
  if (!c) return el("td", {}, "—");
  const st = c.state || "open";
  if (st === "open" || st === "overdue") {
    const late = c.overdue || st === "overdue";
    return el("td", { class: late ? "late" : "" },
      el("span", { class: "badge " + (late ? "bad" : "warn") }, late ? "en retard" : "en cours"), " ",
      fmtLeft(c.due_ms), el("br"), el("small", {}, c.label || c.name));
  }
  return el("td", {}, el("span", { class: "badge ok" }, "clos"), " ",
    el("small", {}, (OBLIG_STATES[st] || st) + " – " + (c.label || c.name)));
}

function row(m, open) {
  const tr = el("tr", { "data-id": m.id, "data-type": m.type });
  const a = el("a", { href: `${open}?id=${m.id}` }, TYPES[m.type] || m.type);
  tr.append(
    el("td", {}, fmtTime(m.received_ms)),
    el("td", {}, a, m.case_ref ? el("small", { class: "block" }, m.case_ref) : null),
    el("td", {}, el("span", { class: "badge urg-" + m.urgency }, URGENCY[m.urgency] || m.urgency)),
    el("td", {}, m.age_band ? AGE[m.age_band] || m.age_band : "—",
      m.children > 1 ? el("small", { class: "block" }, `${m.children} enfants`) : null),
    el("td", {}, m.commune || "—"),
    el("td", {}, SENDER_TYPES[m.sender_type] || m.sender_type || "—", el("small", { class: "block" }, m.sender)),
    clockCell(m.clock),
    el("td", {}, STATES[m.state] || m.state),
    el("td", {}, m.known_child ? el("span", { class: "badge warn" }, "connu")
      : m.siblings_known ? el("span", { class: "badge" }, "fratrie connue") : "—"));
  return tr;
}

// Fills table (a <table> with an empty <tbody>) page by page.
export function queue(table, more, status, open) {
  const tbody = table.querySelector("tbody");
  let next = null;
  async function load(first) {
    more.disabled = true;
    try {
      const q = "/v1/queue?limit=25" + (next && !first ? "&after=" + encodeURIComponent(next) : "");
      const j = await api("GET", q);
      if (first) tbody.replaceChildren();
      for (const m of j.messages) tbody.append(row(m, open));
      next = j.next;
      more.hidden = !next;
      if (!tbody.children.length)
        tbody.append(el("tr", {}, el("td", { colspan: 9 }, "Aucun message reçu.")));
      say(status, `${tbody.querySelectorAll("tr[data-id]").length} message(s) affiché(s)` +
        (next ? ", d'autres suivent." : "."), true);
    } catch (e) {
      say(status, errText(e));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", () => load(false));
  load(true);
}
