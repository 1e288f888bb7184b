// Copy drafts: copies the draft to the clipboard. (job_progress.js fills the draft in.)
(function () {
  "use strict";
  const button = document.getElementById("copy-to-clipboard");
  if (!button) return;
  const textarea = document.querySelector("#copy-editor textarea");
  const result = document.getElementById("copy-clipboard-result");

  // The Clipboard API needs a secure context (HTTPS or localhost); elsewhere the old
  // select-and-copy still works.
  async function copyDraft() {
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

  button.addEventListener("click", copyDraft);
})();
