// The team inbox (templates/messaging/inbox.html): which conversation is open in the list, and the
// keyboard shortcuts j/k (next/previous conversation), r (reply), e (done), / (search), ? (help).
// Without this file everything still works by links and forms; it only saves clicks.
(() => {
  const list = () => document.getElementById("conversation-list");
  const links = () => Array.from(document.querySelectorAll("#conversation-list .conversation-link"));
  const pathOf = (href) => new URL(href, location.href).pathname;

  // The open conversation's row is marked in the list: after a pick, a poll's repaint, Back.
  function markOpen() {
    const pane = document.getElementById("conversation-pane");
    const open = pane?.hasAttribute("data-open") ? location.pathname : null;
    links().forEach((link) => {
      const item = link.closest(".conversation-item");
      if (open && pathOf(link.href) === open) item.setAttribute("aria-current", "true");
      else item.removeAttribute("aria-current");
    });
  }
  document.addEventListener("htmx:afterSettle", markOpen);
  window.addEventListener("popstate", () => setTimeout(markOpen, 0));
  document.addEventListener("DOMContentLoaded", markOpen);

  // A new pane: its heading takes focus, so a screen reader says whose conversation opened and
  // the next Tab continues inside it.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target?.id !== "conversation-pane" && event.detail.elt?.id !== "conversation-pane") return;
    const heading = document.getElementById("conversation-title");
    if (heading && event.detail.requestConfig?.verb === "get") {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  });

  function move(step) {
    const all = links();
    if (!all.length) return;
    const here = all.findIndex((link) => link.closest(".conversation-item").hasAttribute("aria-current"));
    const next = here === -1 ? (step > 0 ? 0 : all.length - 1) : here + step;
    if (next < 0 || next >= all.length) return;
    all[next].scrollIntoView({ block: "nearest" });
    all[next].click();  // htmx swaps the pane and pushes the URL; a full page load without it
  }

  const typing = (elt) => elt?.closest?.("input, textarea, select, [contenteditable], dialog");

  document.addEventListener("keydown", (event) => {
    if (!list() || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    const help = document.getElementById("shortcuts-help");
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "r": document.querySelector("#conversation-pane textarea[name=message]")?.focus(); break;
      case "e": document.querySelector("#conversation-pane #mark-done")?.click(); break;
      case "/": document.getElementById("q")?.focus(); break;
      case "?": help?.showModal(); break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-shortcuts-open]")) {
      document.getElementById("shortcuts-help")?.showModal();
    }
  });
})();
