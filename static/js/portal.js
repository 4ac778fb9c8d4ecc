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
