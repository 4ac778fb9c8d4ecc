// The tab's title counts unread conversations ("(3) Inbox · CarrierX Portal") and, where the
// person allowed it, a new inbound text raises a desktop notification. One cheap poll serves both
// (messaging/views/notifications.py): an empty 204 when nothing changed since the cursor.
//
// A hidden tab is where a notification matters most, so it keeps polling, slowly, while desktop
// notifications are on; without them a hidden tab has nobody to tell and stops until it is seen
// again, then catches up at once.
(() => {
  const config = document.getElementById("notify-poll");
  if (!config) return;

  const VISIBLE_MS = 5000;
  const HIDDEN_MS = 30000;
  const SEEN_KEY = "portal-notified-messages";
  const SEEN_KEPT = 50;

  let since = config.dataset.since;
  let unread = Number(config.dataset.unread) || 0;
  let timer = null;
  let inFlight = false;
  let stopped = false;

  const supported = "Notification" in window;
  const desktopAllowed = () => supported && Notification.permission === "granted";

  // --- The unread count: tab title and nav badge ------------------------------------------------

  const COUNT_PREFIX = /^\(\d+\) /;

  function showTitle() {
    const plain = document.title.replace(COUNT_PREFIX, "");
    const wanted = unread > 0 ? `(${unread}) ${plain}` : plain;
    if (document.title !== wanted) document.title = wanted;
  }

  function showBadge() {
    const link = document.querySelector(`.mainnav a[href="${config.dataset.inboxUrl}"]`);
    if (!link) return;
    let badge = link.querySelector(".badge.unread");
    if (unread === 0) {
      badge?.remove();
      return;
    }
    if (!badge) {
      // The same markup base.html renders.
      badge = document.createElement("span");
      badge.className = "badge unread";
      const words = document.createElement("span");
      words.className = "visually-hidden";
      words.textContent = " unread";
      badge.append("", words);
      link.append(" ", badge);
    }
    badge.firstChild.nodeValue = String(unread);
  }

  function showCount(count) {
    unread = count;
    showTitle();
    showBadge();
  }

  // A page that changes its own title (the inbox moving between conversations) keeps the count.
  new MutationObserver(showTitle).observe(document.head, {
    childList: true,
    subtree: true,
    characterData: true,
  });

  // --- Desktop notifications ---------------------------------------------------------------------

  // Remembered for the tab's life, across its page loads: a text already shown is not shown again
  // when the next page's cursor (kept a little behind the clock) brings it once more.
  const seen = new Set(JSON.parse(sessionStorage.getItem(SEEN_KEY) || "[]"));

  function remember(id) {
    seen.add(id);
    sessionStorage.setItem(SEEN_KEY, JSON.stringify([...seen].slice(-SEEN_KEPT)));
  }

  function notify(message) {
    if (seen.has(message.id)) return;
    remember(message.id);
    if (!desktopAllowed()) return;
    // The tag makes a second tab's copy of the same text replace this one, not add to it.
    const note = new Notification(message.sender, { body: message.text, tag: `message-${message.id}` });
    note.addEventListener("click", () => {
      window.focus();
      note.close();
      window.location.assign(message.url);
    });
  }

  // --- The poll ---------------------------------------------------------------------------------

  function schedule() {
    clearTimeout(timer);
    if (stopped) return;
    if (document.hidden && !desktopAllowed()) return; // visibilitychange starts it again
    timer = setTimeout(poll, document.hidden ? HIDDEN_MS : VISIBLE_MS);
  }

  async function poll() {
    if (inFlight || stopped) return;
    inFlight = true;
    try {
      const url = new URL(config.dataset.url, window.location.href);
      url.searchParams.set("since", since);
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.redirected || response.status === 401 || response.status === 403) {
        stopped = true; // signed out, or the role was taken away: nothing more to ask
        return;
      }
      if (response.status !== 200) return; // 204: nothing new; 5xx: the next poll tries again
      const answer = await response.json();
      since = answer.cursor;
      showCount(answer.unread);
      answer.messages.forEach(notify);
    } catch {
      // Offline or mid-deploy: the next poll tries again.
    } finally {
      inFlight = false;
      schedule();
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      schedule();
    } else {
      clearTimeout(timer);
      poll();
    }
  });

  showCount(unread);
  schedule();

  // --- The Preferences page: say what this browser allows, ask only when the person clicks ------

  const state = document.getElementById("notify-permission-state");
  const ask = document.getElementById("notify-permission-ask");
  if (!state || !ask) return;

  const WORDS = {
    unsupported:
      "This browser cannot show desktop notifications; the tab’s title still counts unread conversations.",
    granted: "Desktop notifications are on in this browser.",
    denied:
      "This browser blocks the portal’s notifications. To get them, allow notifications for this site in the browser’s site settings.",
    default: "Desktop notifications are off in this browser until you turn them on.",
  };

  function describePermission() {
    const permission = supported ? Notification.permission : "unsupported";
    state.textContent = WORDS[permission] ?? WORDS.default;
    ask.hidden = permission !== "default";
  }

  ask.addEventListener("click", async () => {
    await Notification.requestPermission();
    describePermission();
    schedule(); // a hidden tab may now keep polling
  });
  describePermission();
})();
