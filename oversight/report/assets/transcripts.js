"use strict";
// The transcript browser. Every piece of text from the store (questions, answers, speeches,
// names) reaches the page through textContent, never as markup.
(function () {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const PAGE = 100;
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };
  const letter = (i) => String.fromCharCode(65 + i);
  const pct = (p) => (typeof p === "number" ? (100 * p).toFixed(0) + "%" : "n/a");
  const debates = data.debates;
  for (const d of debates) {
    d.question = data.questions[d.q];
    d.haystack = d.question.text.toLowerCase();
  }

  const fProtocol = $("f-protocol");
  const fGroup = $("f-group");
  const fOutcome = $("f-outcome");
  const fSearch = $("f-search");
  const fHide = $("f-hide");
  const list = $("list");
  const moreButton = $("more");
  const count = $("count");

  $("title").textContent = "Transcripts: " + data.experiment;
  $("subtitle").textContent = data.subtitle;
  $("rules").textContent = data.rules;
  for (const p of data.protocols) fProtocol.appendChild(new Option(p, p));
  data.groups.forEach((g, i) => fGroup.appendChild(new Option(g.label, String(i))));

  let matches = [];
  let shown = 0;

  // The group whose verdict "correct" / "fooled" refers to: the chosen one, else the deciding one.
  const judgingGroup = () => (fGroup.value === "" ? data.deciding : Number(fGroup.value));

  function outcome(d, g) {
    const p = g === null ? null : d.verdicts[g];
    if (typeof p !== "number") return null;
    return p > 0.5 ? "correct" : p < 0.5 ? "fooled" : "tie";
  }

  function apply() {
    const protocol = fProtocol.value;
    const group = fGroup.value === "" ? null : Number(fGroup.value);
    const wanted = fOutcome.value;
    const judge = judgingGroup();
    const text = fSearch.value.trim().toLowerCase();
    matches = [];
    for (let i = 0; i < debates.length; i++) {
      const d = debates[i];
      if (protocol && d.protocol !== protocol) continue;
      if (group !== null && typeof d.verdicts[group] !== "number") continue;
      if (wanted && outcome(d, judge) !== wanted) continue;
      if (text && !d.haystack.includes(text)) continue;
      matches.push(i);
    }
    list.replaceChildren();
    shown = 0;
    if (!matches.length) list.appendChild(el("p", "empty", "No debate matches these filters."));
    more();
  }

  function more() {
    const frag = document.createDocumentFragment();
    const end = Math.min(matches.length, shown + PAGE);
    const judge = judgingGroup();
    for (let k = shown; k < end; k++) frag.appendChild(card(debates[matches[k]], judge));
    list.appendChild(frag);
    shown = end;
    count.textContent =
      matches.length + " of " + debates.length + " debates match" +
      (matches.length ? "; showing " + shown : "");
    count.dataset.matches = String(matches.length);
    count.dataset.shown = String(shown);
    moreButton.hidden = shown >= matches.length;
  }

  function card(d, judge) {
    const q = d.question;
    const art = el("article", "debate");
    art.dataset.id = d.id;
    const head = el("header");
    head.append(el("span", "protocol", d.protocol), el("span", "key", d.key));
    if (d.status !== "complete") head.append(el("span", "status", d.status));
    const o = outcome(d, judge);
    if (o) {
      const words = { correct: "judged correct", fooled: "judge fooled", tie: "tie" }[o];
      const badge = el("span", "badge answer-info " + o, words + " (" + data.groups[judge].label + ")");
      badge.dataset.outcome = o;
      head.append(badge);
    }
    art.append(head, el("h2", "question", q.text));

    const arguedBy = {};
    for (const [speaker, choice] of d.assignment) (arguedBy[choice] = arguedBy[choice] || []).push(speaker);
    const answers = el("ol", "answers");
    q.choices.forEach((choice, i) => {
      const li = el("li", "answer" + (i === q.correct ? " correct" : ""));
      li.append(el("span", "letter", letter(i)), el("span", "text", choice));
      if (arguedBy[i]) li.append(el("span", "argued", "argued by " + arguedBy[i].join(", ")));
      if (i === q.correct) li.append(el("span", "correct-mark answer-info", "correct answer"));
      answers.append(li);
    });
    art.append(answers);

    const side = Object.fromEntries(d.assignment);
    for (const t of d.turns) {
      const turn = el("section", "turn");
      const stance = Object.hasOwn(side, t.speaker) ? " (for " + letter(side[t.speaker]) + ")" : "";
      turn.append(el("div", "who", "Round " + (t.round + 1) + " \u00b7 " + t.speaker + stance));
      const speech = el("p", "speech");
      for (const [kind, text] of t.segments) {
        if (kind === "t") speech.append(document.createTextNode(text));
        else speech.append(el("span", kind === "v" ? "quote verified" : "quote unverified", text));
      }
      turn.append(speech);
      if (t.notes && t.notes.length) turn.append(notesOf(t.notes));
      art.append(turn);
    }
    if (d.judgments.length) {
      const wrap = el("div", "judges-wrap answer-info");
      wrap.append(judgeTable(d, q));
      art.append(wrap);
    }
    return art;
  }

  // Best-of-N samples with their scores, and a draft with its critique: folded under the turn.
  function notesOf(notes) {
    const samples = notes.filter((n) => n.kind === "sample").length;
    const parts = [];
    if (samples) parts.push(samples + " candidates");
    if (notes.some((n) => n.kind === "critique")) parts.push("draft and critique");
    const box = el("details", "notes");
    box.append(el("summary", "", parts.join(", ")));
    for (const n of notes) {
      let head = n.kind === "sample" ? "candidate " + (n.index + 1) : n.kind;
      if (n.score !== null && n.score !== undefined) head += " \u00b7 score " + n.score.toFixed(3);
      if (n.chosen) head += " \u00b7 said";
      const item = el("div", "note" + (n.chosen ? " chosen" : ""));
      item.append(el("div", "who", head), el("p", "speech", n.text));
      box.append(item);
    }
    return box;
  }

  function judgeTable(d, q) {
    const table = el("table", "judges");
    const orders = [...new Set(d.judgments.flatMap((j) => Object.keys(j.orders)))].sort();
    const hasBeliefs = d.judgments.some((j) => j.beliefs.length);
    const headRow = el("tr");
    headRow.append(el("th", null, "judge"), el("th", null, "group"), el("th", null, "P(correct)"));
    for (const key of orders) {
      headRow.append(el("th", null, "shown " + key.split(",").map((i) => letter(Number(i))).join(",")));
    }
    if (hasBeliefs) headRow.append(el("th", null, "P(correct) after rounds read"));
    const thead = el("thead");
    thead.append(headRow);
    table.append(thead);
    const body = el("tbody");
    for (const j of d.judgments) {
      const row = el("tr", "judgment");
      const who = el("td", null, j.judge);
      if (j.feedback) who.append(el("div", "feedback", j.feedback));
      row.append(who, el("td", null, j.groups.join(", ")));
      row.append(el("td", "num", j.probs ? pct(j.probs[q.correct]) : "no verdict"));
      for (const key of orders) {
        const p = j.orders[key];
        row.append(el("td", "num", p ? p.map((x, i) => letter(i) + " " + pct(x)).join(" \u00b7 ") : ""));
      }
      if (hasBeliefs) {
        const text = j.beliefs.map(([r, ps]) => r + ": " + pct(ps[q.correct])).join(", ");
        row.append(el("td", "beliefs", text));
      }
      body.append(row);
    }
    table.append(body);
    return table;
  }

  $("filters").addEventListener("submit", (e) => e.preventDefault());
  for (const control of [fProtocol, fGroup, fOutcome]) control.addEventListener("change", apply);
  fSearch.addEventListener("input", apply);
  fHide.addEventListener("change", () => document.body.classList.toggle("hide-answer", fHide.checked));
  moreButton.addEventListener("click", more);
  apply();
})();
