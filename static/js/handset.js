// The sandbox handset remembers which phone it is and which DID it texts (in localStorage), so a
// reload, or coming back later, opens the same conversation. The page's address wins: a link
// such as ?handset=15165550123 opens that handset, and is remembered in turn.
(() => {
  "use strict";
  const KEY = "sandbox-handset";
  const FORM = "form[data-handset-form]";

  function saved() {
    try {
      const value = JSON.parse(localStorage.getItem(KEY) || "null");
      return value && typeof value.handset === "string" ? value : null;
    } catch {
      return null;
    }
  }

  function remember(handset, did) {
    if (!/^[0-9]{10,15}$/.test(handset.replace(/[^0-9]/g, ""))) return;  // not a phone yet
    try {
      localStorage.setItem(KEY, JSON.stringify({ handset, did }));
    } catch {
      // Storage off (private mode, quota): the page still works, it just forgets.
    }
  }

  const params = new URLSearchParams(window.location.search);
  const previous = saved();
  if (!params.has("handset") && previous) {
    params.set("handset", previous.handset);
    if (previous.did) params.set("did", previous.did);
    window.location.replace(`${window.location.pathname}?${params}`);
    return;
  }

  // What the server shows (on load, and after a send swaps the form in) is the conversation.
  function rememberShown() {
    const form = document.querySelector(FORM);
    if (form) remember(form.dataset.handset, form.dataset.did);
  }
  document.addEventListener("DOMContentLoaded", rememberShown);
  document.addEventListener("htmx:afterSettle", rememberShown);
  // A number typed or a DID picked counts too, before anything is sent.
  document.addEventListener("change", (event) => {
    const form = event.target.closest?.(FORM);
    if (form) remember(form.elements.handset.value.trim(), form.elements.did.value);
  });
})();
