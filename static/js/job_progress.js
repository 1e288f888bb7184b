// Polls a long job's status (feedlens.jobs.job_status_response) until it finishes, filling
// the page in place: imports, analysis runs and copy drafts alike. The page says what goes
// where with data attributes inside the element that carries data-status-url:
//   data-job-field="name"      text: the status's field (data-job-format="list" joins a
//                              list with commas, "datetime" shows a local time;
//                              data-job-empty: the text when the field is empty)
//   data-job-value="name"      the value of the form field it is or holds (a textarea)
//   data-job-progress          a <progress>: done of total ("percent": of 100)
//   data-job-rows="name"       a <tbody> of the field's rows (objects); data-job-columns
//                              names their keys in order, data-job-numeric the numeric ones,
//                              data-job-empty the one row shown when there are none
//   data-job-shown-when="done,failed"  shown only while the job's status is one of these
//   data-job-shown-if="name"   shown only when the field is not empty
// The element itself gets data-status, the job's status, for scripts and tests to read.
(function () {
  "use strict";
  const panel = document.querySelector("[data-status-url]");
  if (!panel) return;
  const POLL_MS = 1000;
  const FINISHED = ["done", "failed"];
  const each = (selector, fill) => panel.querySelectorAll(selector).forEach(fill);
  const isEmpty = (value) =>
    value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length);

  function formatted(value, format) {
    if (format === "list") return value.join(", ");
    if (format === "datetime") return new Date(value).toLocaleString();
    return String(value);
  }

  function cell(value, numeric) {
    const td = document.createElement("td");
    td.textContent = value;
    if (numeric) td.className = "num";
    return td;
  }

  function fillRows(body, rows) {
    const columns = body.dataset.jobColumns.split(",");
    const numeric = (body.dataset.jobNumeric || "").split(",");
    body.replaceChildren();
    if (!rows.length && body.dataset.jobEmpty) {
      const td = cell(body.dataset.jobEmpty, false);
      td.colSpan = columns.length;
      body.appendChild(document.createElement("tr")).appendChild(td);
    }
    for (const row of rows) {
      const tr = document.createElement("tr");
      for (const column of columns) tr.appendChild(cell(row[column], numeric.includes(column)));
      body.appendChild(tr);
    }
  }

  function show(job) {
    each("[data-job-field]", (element) => {
      const value = job[element.dataset.jobField];
      element.textContent = isEmpty(value)
        ? element.dataset.jobEmpty || ""
        : formatted(value, element.dataset.jobFormat);
    });
    each("[data-job-value]", (element) => {
      const field = element.matches("textarea, input") ? element : element.querySelector("textarea, input");
      field.value = job[element.dataset.jobValue] || "";
    });
    each("progress[data-job-progress]", (bar) => {
      const percent = bar.dataset.jobProgress === "percent";
      bar.max = percent ? 100 : Math.max(job.total, 1);
      bar.value = percent ? job.percent : job.done;
    });
    each("[data-job-rows]", (body) => fillRows(body, job[body.dataset.jobRows] || []));
    each("[data-job-shown-when]", (element) => {
      element.hidden = !element.dataset.jobShownWhen.split(",").includes(job.status);
    });
    each("[data-job-shown-if]", (element) => {
      element.hidden = isEmpty(job[element.dataset.jobShownIf]);
    });
    panel.dataset.status = job.status;
  }

  async function poll() {
    let response;
    try {
      response = await fetch(panel.dataset.statusUrl, { credentials: "same-origin" });
    } catch (error) {
      return setTimeout(poll, POLL_MS * 5); // the server restarts: try again later
    }
    if (!response.ok) return setTimeout(poll, POLL_MS * 5);
    const job = await response.json();
    show(job);
    if (!job.finished) setTimeout(poll, POLL_MS);
  }

  // A page rendered after the job finished shows it already: nothing to poll.
  if (!FINISHED.includes(panel.dataset.status)) poll();
})();
