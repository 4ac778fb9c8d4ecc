// Live regions (marked data-live) poll with htmx. A hidden tab has nobody watching: skip its polls
// and catch up with one poll as soon as it is visible again.
document.addEventListener("htmx:beforeRequest", (event) => {
  if (document.hidden && event.detail.elt.hasAttribute("data-live")) {
    event.preventDefault();
  }
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    document.querySelectorAll("[data-live]").forEach((elt) => htmx.trigger(elt, "live:resume"));
  }
});

// Announcements. A row that can change while the page is open says, in data-announce, what a
// screen reader should hear about it ("Message to +1 516-206-5575: delivered"). Rows already on the
// page when it loads are known; after each htmx swap, a row whose announcement (or, when set, its
// data-announce-key) is new is said once in the page's one polite live region. A poll that brings
// the same rows again says nothing.
(() => {
  const said = new Set();
  const keyOf = (elt) => `${elt.id}|${elt.dataset.announceKey ?? elt.dataset.announce}`;

  function collect(speak) {
    const region = document.getElementById("live-announcer");
    document.querySelectorAll("[data-announce]").forEach((elt) => {
      const key = keyOf(elt);
      if (said.has(key)) return;
      said.add(key);
      if (!speak || !region) return;
      // Said elsewhere on the page now: the inbox list's row for the conversation open beside it
      // (its thread says the same message).
      const unless = elt.dataset.announceUnless;
      if (unless && document.querySelector(unless)) return;
      const line = document.createElement("p");
      line.textContent = elt.dataset.announce;
      region.append(line);
      while (region.childElementCount > 5) region.firstElementChild.remove();
    });
  }

  collect(false);
  document.addEventListener("htmx:afterSettle", () => collect(true));
})();

// Focus after an action. A page that answers a form with a confirmation (the flash after Send)
// puts focus on it, so it is read and the next Tab continues from there; a form sent back with
// errors puts focus on the first field to correct, and one that names the field to fill next
// (autofocus: a contact just added, to be named) on that field. On load, not before: a URL
// fragment kept across the redirect (#main, after the skip link) would otherwise move focus to its
// target afterwards; and the browser's own autofocus comes too late to win against the flash.
window.addEventListener("load", () => {
  const flash = document.querySelector("main .flash li");
  const invalid = document.querySelector("main [aria-invalid=true]");
  const target = invalid ?? document.querySelector("main [autofocus]") ?? flash;
  if (!target || !document.activeElement?.matches("body, main")) return;
  if (target === flash) target.tabIndex = -1;
  target.focus();
});

// A form htmx replaces after it is sent (data-refocus: the reply composer) keeps the user in it:
// focus goes to the first field to correct, else back to its message box.
document.addEventListener("htmx:afterSettle", (event) => {
  const form = event.detail.elt?.closest?.("form[data-refocus]");
  if (!form || !form.isConnected) return;
  const field = form.querySelector("[aria-invalid=true]") ?? form.querySelector("textarea");
  field?.focus();
});
