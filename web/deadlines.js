// SPDX-License-Identifier: AGPL-3.0-or-later
// deadlines.js - the deadlines dashboard: open obligations, overdue first
// (GET /v1/deadlines is ordered by due time), counts of the ones that
// matter most (overdue, children under 2, OPP 8/15 days, emergency
// reception), and a chart drawn here in SVG of the referrals received and
// the obligations overdue per week over 12 weeks, overdue ones per
// territory (the obligation's actor).  Reads are paged and bounded.
import { shell, api, el, $, fmtTime, fmtLeft, say, errText, REFERRALS } from "/assets/app.js";

await shell("Échéances", ["agent", "supervisor"]);
const WEEK = 7 * 86400000, WEEKS = 12, MAX_PAGES = 4;
const now = Date.now();
const monday = (t) => { const d = new Date(t); d.setHours(0, 0, 0, 0); d.setDate(d.getDate() - ((d.getDay() + 6) % 7)); return d.getTime(); };
const start = monday(now) - (WEEKS - 1) * WEEK;
const COLORS = ["#b34000", "#6a1b9a", "#00695c", "#8d6e00", "#ad1457", "#37474f"];
let next = null, shown = [];

function row(o) {
  const late = o.overdue;
  return el("tr", { "data-name": o.name, class: late ? "late-row" : "" },
    el("td", {}, o.label || o.name, el("small", { class: "block" }, o.source || "")),
    el("td", {}, o.case_id ? `n° ${o.case_id}` : "annuelle"),
    el("td", {}, o.actor), el("td", {}, fmtTime(o.start_ms)), el("td", {}, fmtTime(o.due_ms)),
    el("td", { class: late ? "late" : "" }, el("span", { class: "badge " + (late ? "bad" : "warn") }, late ? "en retard" : "en cours"), " ", fmtLeft(o.due_ms, now)));
}

// Cases whose referral concerns a child under 2, among the latest 100
// received (GET /v1/queue: age bands, never a birth date).
let under2 = new Set();
async function loadUnder2() {
  try {
    const q = await api("GET", "/v1/queue?limit=100");
    under2 = new Set(q.messages.filter((m) => m.age_band === "0-2" && m.case_id).map((m) => m.case_id));
  } catch (e) {
    under2 = new Set();
  }
}

function cards(list, total) {
  const n = (f) => list.filter(f).length;
  const c = [["Ouvertes", total], ["Dépassées", n((o) => o.overdue)],
    ["Enfant de moins de 2 ans (100 derniers reçus)", n((o) => under2.has(o.case_id))],
    ["OPP : saisine du juge (8 j) et décision (15 j)", n((o) => o.start_type === "court.opp")],
    ["Accueil d'urgence (5 j / 72 h)", n((o) => o.start_type === "ase.emergency_reception")]];
  $("dl-cards").replaceChildren(...c.map(([k, v]) => el("section", { class: "doc-section" }, el("h2", {}, k), el("p", { class: "big" }, String(v)))));
}

async function page(first) {
  try {
    const j = await api("GET", "/v1/deadlines?state=open&limit=100" + (next && !first ? "&after=" + encodeURIComponent(next) : ""));
    const tb = $("deadlines").querySelector("tbody");
    if (first) tb.replaceChildren();
    shown = shown.concat(j.obligations);
    for (const o of j.obligations) tb.append(row(o));
    if (!shown.length) tb.append(el("tr", {}, el("td", { colspan: 6 }, "Aucune échéance ouverte.")));
    next = j.next;
    $("dl-more").hidden = !next;
    cards(shown, j.total);
  } catch (e) {
    say("dl-status", errText(e));
  }
}
$("dl-more").addEventListener("click", () => page(false));

// Every page of path (bounded), its list member concatenated.
async function all(path, member) {
  let out = [], cur = null;
  for (let i = 0; i < MAX_PAGES; i++) {
    const j = await api("GET", path + (cur ? "&after=" + encodeURIComponent(cur) : ""));
    out = out.concat(j[member] || []);
    cur = j.next;
    if (!cur) break;
  }
  return { rows: out, cut: !!cur };
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, txt) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (txt !== undefined) e.textContent = txt;
  return e;
}

async function chart() {
  let refs, obl;
  try {
    refs = await all(`/v1/search?what=messages&from=${start}&limit=500`, "messages");
    obl = await all(`/v1/deadlines?state=any&due_after=${start}&due_before=${now}&limit=500`, "obligations");
  } catch (e) {
    say("dl-status", errText(e));
    return;
  }
  const weeks = Array.from({ length: WEEKS }, (_, i) => start + i * WEEK);
  const wk = (t) => Math.floor((t - start) / WEEK);
  const received = new Array(WEEKS).fill(0);
  for (const m of refs.rows) if (REFERRALS.includes(m.type) && wk(m.received_ms) >= 0 && wk(m.received_ms) < WEEKS) received[wk(m.received_ms)]++;
  const actors = [];
  const overdue = {};
  for (const o of obl.rows) {
    const late = o.state === "late" || o.overdue || (o.state === "open" && o.due_ms < now);
    const w = wk(o.due_ms);
    if (!late || w < 0 || w >= WEEKS) continue;
    if (!overdue[o.actor]) { overdue[o.actor] = new Array(WEEKS).fill(0); actors.push(o.actor); }
    overdue[o.actor][w]++;
  }
  const W = 960, H = 320, L = 40, B = 40, T = 10, gw = (W - L - 10) / WEEKS;
  const maxOver = Math.max(0, ...weeks.map((_, i) => actors.reduce((a, k) => a + overdue[k][i], 0)));
  const max = Math.max(1, ...received, maxOver);
  const y = (v) => H - B - (v / max) * (H - B - T);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-title chart-desc", id: "chart-svg" });
  svg.append(s("desc", { id: "chart-desc" }, `Sur ${WEEKS} semaines : ${received.reduce((a, b) => a + b, 0)} informations reçues, ` +
    `${actors.reduce((a, k) => a + overdue[k].reduce((x, z) => x + z, 0), 0)} échéances dépassées.`));
  for (let v = 0; v <= max; v += Math.max(1, Math.ceil(max / 5))) {
    svg.append(s("line", { x1: L, x2: W - 10, y1: y(v), y2: y(v), stroke: "#ccc" }),
      s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 12, fill: "#1b1b1b" }, String(v)));
  }
  weeks.forEach((t, i) => {
    const x = L + i * gw;
    const bw = gw * 0.38;
    if (received[i]) svg.append(s("rect", { x: x + gw * 0.08, y: y(received[i]), width: bw, height: y(0) - y(received[i]), fill: "#1f4e79", class: "bar-received", "data-week": i },
      undefined));
    let acc = 0;
    actors.forEach((a, k) => {
      const v = overdue[a][i];
      if (!v) return;
      svg.append(s("rect", { x: x + gw * 0.5, y: y(acc + v), width: bw, height: y(acc) - y(acc + v), fill: COLORS[k % COLORS.length], class: "bar-overdue", "data-actor": a }));
      acc += v;
    });
    const d = new Date(t);
    svg.append(s("text", { x: x + gw / 2, y: H - B + 16, "text-anchor": "middle", "font-size": 11, fill: "#1b1b1b" },
      `${d.getDate()}/${d.getMonth() + 1}`));
  });
  svg.append(s("line", { x1: L, x2: W - 10, y1: y(0), y2: y(0), stroke: "#1b1b1b" }));
  $("chart").replaceChildren(svg);
  const sw = (color) => { const e = s("svg", { width: 14, height: 14, "aria-hidden": "true" }); e.append(s("rect", { width: 14, height: 14, fill: color })); return e; };
  $("chart-legend").replaceChildren(el("li", {}, sw("#1f4e79"), " Informations reçues"),
    ...actors.map((a, k) => el("li", {}, sw(COLORS[k % COLORS.length]), ` Dépassées – ${a}`)));
  const tbl = $("chart-table");
  tbl.querySelector("thead").replaceChildren(el("tr", {}, el("th", { scope: "col" }, "Semaine du"), el("th", { scope: "col" }, "Reçues"),
    ...actors.map((a) => el("th", { scope: "col" }, `Dépassées ${a}`))));
  tbl.querySelector("tbody").replaceChildren(...weeks.map((t, i) => el("tr", {}, el("th", { scope: "row" }, new Date(t).toLocaleDateString("fr-FR")),
    el("td", {}, String(received[i])), ...actors.map((a) => el("td", {}, String(overdue[a][i]))))));
  if (refs.cut || obl.cut) say("dl-status", "Graphique partiel : trop de données pour la période, seules les premières pages sont comptées.");
}

await loadUnder2();
await page(true);
await chart();
