// The phone-width menu: the header's "Menu" button opens and closes the nav (#site-menu).
//
// Loaded in <head> without defer, so the page is marked as scripted (html.js) before its first
// paint: only then does the CSS fold the nav away behind the button. Without JavaScript the nav
// simply stays open, stacked, and the button stays hidden.
document.documentElement.classList.add("js");

(() => {
  function setOpen(button, open) {
    button.setAttribute("aria-expanded", String(open));
    document.getElementById(button.getAttribute("aria-controls"))?.classList.toggle("open", open);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest(".menu-button");
    if (button) setOpen(button, button.getAttribute("aria-expanded") !== "true");
  });

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const button = document.querySelector('.menu-button[aria-expanded="true"]');
    if (button) {
      setOpen(button, false);
      button.focus();
    }
  });
})();
