// Polls an import job's status until it finishes, updating the page in place.
(function () {
  "use strict";
  const panel = document.getElementById("import-job");
  if (!panel) return;
  const POLL_MS = 1000;
  const set = (id, value) => { document.getElementById(id).textContent = value; };

  function showErrors(rowErrors) {
    const body = document.getElementById("job-row-errors");
    body.replaceChildren();
    const rows = rowErrors.length ? rowErrors : [{ position: "None.", field: "", message: "" }];
    for (const problem of rows) {
      const tr = document.createElement("tr");
      for (const value of [problem.position, problem.field, problem.message]) {
        const td = document.createElement("td");
        td.textContent = value;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }

  async function poll() {
    const response = await fetch(panel.dataset.statusUrl, { credentials: "same-origin" });
    if (!response.ok) return setTimeout(poll, POLL_MS * 5);
    const job = await response.json();
    document.getElementById("job-progress").value = job.percent;
    set("job-percent", job.percent);
    set("job-status", job.status_label);
    set("job-created", job.items_created);
    set("job-duplicates", job.duplicates);
    set("job-failed", job.rows_failed);
    set("job-rows", job.rows_done);
    showErrors(job.row_errors);
    const error = document.getElementById("job-error");
    error.textContent = job.error;
    error.hidden = !job.error;
    if (!job.finished) setTimeout(poll, POLL_MS);
  }
  poll();
})();
