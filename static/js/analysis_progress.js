// Polls an analysis run's status until it finishes, updating the page in place.
(function () {
  "use strict";
  const panel = document.getElementById("analysis-run");
  if (!panel) return;
  const POLL_MS = 1000;
  const set = (id, value) => { document.getElementById(id).textContent = value; };

  function showStats(stats) {
    const body = document.getElementById("run-stats");
    body.replaceChildren();
    for (const [stage, figures] of Object.entries(stats)) {
      const tr = document.createElement("tr");
      for (const [value, numeric] of [[stage, false], [figures.items, true], [figures.seconds, true]]) {
        const td = document.createElement("td");
        td.textContent = value;
        if (numeric) td.className = "num";
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }

  async function poll() {
    const response = await fetch(panel.dataset.statusUrl, { credentials: "same-origin" });
    if (!response.ok) return setTimeout(poll, POLL_MS * 5);
    const run = await response.json();
    set("run-status", run.status_label);
    set("run-stage", run.stage || "waiting for a worker");
    set("run-done", run.done);
    set("run-total", run.total);
    const bar = document.getElementById("run-progress");
    bar.max = Math.max(run.total, 1);
    bar.value = run.done;
    showStats(run.stats);
    const error = document.getElementById("run-error");
    error.textContent = run.error;
    error.hidden = !run.error;
    document.getElementById("run-next").hidden = run.status !== "done";
    if (!run.finished) setTimeout(poll, POLL_MS);
  }
  poll();
})();
