// The composers' Saved replies picker (templates/messaging/_saved_reply_picker.html): Insert puts
// the chosen reply's text into the Message box at the cursor, without leaving the page, and
// selects its first {placeholder} so typing replaces it. The composer's counter then counts the
// text as it stands (composer.js listens for `input`). Without this script the picker's form
// reloads the page with ?saved_reply=, which fills the box on the server.
(() => {
  const PLACEHOLDER = /\{[A-Za-z_][A-Za-z0-9_]*\}/;

  function insert(box, text) {
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? box.value.length;
    box.focus();
    box.setRangeText(text, start, end, "end");
    box.dispatchEvent(new Event("input", { bubbles: true }));
    const inserted = box.value.slice(start, start + text.length);
    const found = PLACEHOLDER.exec(inserted);
    if (found) box.setSelectionRange(start + found.index, start + found.index + found[0].length);
  }

  function wire(form) {
    form.addEventListener("submit", (event) => {
      const source = document.getElementById(form.dataset.bodies);
      // The reply box is swapped by htmx after each send: look it up when it is needed.
      const box = document.getElementById(form.dataset.savedReplies);
      const select = form.querySelector("select");
      if (!source || !box || !select) return; // the plain GET fills the box instead
      const bodies = JSON.parse(source.textContent);
      if (!Object.hasOwn(bodies, select.value)) return;
      event.preventDefault();
      insert(box, bodies[select.value]);
      const status = form.querySelector(".saved-reply-status");
      const name = select.selectedOptions[0]?.textContent ?? "";
      if (status) {
        status.textContent = PLACEHOLDER.test(bodies[select.value])
          ? `Inserted “${name}”. Fill in its placeholders before sending.`
          : `Inserted “${name}”.`;
      }
    });
  }

  document.querySelectorAll("form[data-saved-replies]").forEach(wire);
})();
