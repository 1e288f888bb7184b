// Copy drafts: polls a draft being written and fills it in when it is done (no reload);
// copies the draft to the clipboard.
(function () {
  "use strict";
  const panel = document.getElementById("copy-draft");
  if (!panel) return;
  const POLL_MS = 1000;
  const byId = (id) => document.getElementById(id);
  const set = (id, value) => { byId(id).textContent = value; };
  const textarea = panel.querySelector("textarea");

  function showFinished(draft) {
    byId("copy-progress").hidden = true;
    set("copy-error-text", draft.error);
    byId("copy-error").hidden = !draft.error;
    if (draft.status === "done") {
      textarea.value = draft.text;
      byId("copy-editor").hidden = false;
    }
    set("copy-model", draft.model || "—");
    set("copy-prompt-version", draft.prompt_version || "—");
    set("copy-finished", draft.finished_at ? new Date(draft.finished_at).toLocaleString() : "—");
    set("copy-cited", draft.cited_item_ids.join(", ") || "none");
    set("copy-prompt", draft.prompt);
    panel.dataset.status = draft.status;
  }

  async function poll() {
    let response;
    try {
      response = await fetch(panel.dataset.statusUrl, { credentials: "same-origin" });
    } catch (error) {
      return setTimeout(poll, POLL_MS * 5);  // the server restarts: try again later
    }
    if (!response.ok) return setTimeout(poll, POLL_MS * 5);
    const draft = await response.json();
    set("copy-status", draft.status_label);
    set("copy-done", draft.done);
    set("copy-total", draft.total);
    const bar = byId("copy-bar");
    bar.max = Math.max(draft.total, 1);
    bar.value = draft.done;
    if (draft.finished) return showFinished(draft);
    setTimeout(poll, POLL_MS);
  }

  // The Clipboard API needs a secure context (HTTPS or localhost); elsewhere the old
  // select-and-copy still works.
  async function copyDraft() {
    const result = byId("copy-clipboard-result");
    try {
      await navigator.clipboard.writeText(textarea.value);
    } catch (error) {
      textarea.focus();
      textarea.select();
      if (!document.execCommand("copy")) {
        result.textContent = "Could not copy: the draft is selected, press Ctrl+C.";
        return;
      }
    }
    result.textContent = "Copied.";
  }

  byId("copy-to-clipboard").addEventListener("click", copyDraft);
  if (panel.dataset.status === "queued" || panel.dataset.status === "running") poll();
})();
