// The composers' Saved replies picker (templates/messaging/_saved_reply_picker.html): Insert puts
// the chosen reply's text into the Message box at the cursor, without leaving the page. A reply
// with blanks ({order_number}) gets one labelled input per blank under the Message box
// (_composer_fields.html); what the agent types there replaces the blank in the message as they
// type, and blanks the contact's record knows ({first_name}, {company}) come filled. The reply's
// id goes in the composer's hidden saved_reply_id, so the server names a blank left unfilled. The
// composer's counter counts the text as it stands (composer.js listens for `input`). Without this
// script the picker's form reloads the page with ?saved_reply=, which fills the box on the server.
(() => {
  // htmx runs this file again when it swaps in a pane holding the picker: listen once.
  if (window.savedRepliesListening) return;
  window.savedRepliesListening = true;

  // messaging/text_templates.py's scan: escaped braces first, so `{{name}}` stays literal text.
  const TOKEN = /\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
  // What each composer's blanks stand for: the reply's text, and where and how it now stands in
  // the Message box. Forgotten with the form when htmx swaps the composer after a send.
  const filling = new WeakMap();

  function placeholders(body) {
    const names = [];
    for (const match of body.matchAll(TOKEN)) {
      if (match[1] !== undefined && !names.includes(match[1])) names.push(match[1]);
    }
    return names;
  }

  // An unfilled blank stays as typed in the reply, so the server still refuses it by name.
  function render(body, values) {
    return body.replace(TOKEN, (whole, name) =>
      name !== undefined && values.get(name) ? values.get(name) : whole,
    );
  }

  function label(name) {
    const words = name.replaceAll("_", " ").trim().replace(/\s+/g, " ");
    return words ? words[0].toUpperCase() + words.slice(1) : name;
  }

  function insert(box, text) {
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? box.value.length;
    box.focus();
    box.setRangeText(text, start, end, "end");
    box.dispatchEvent(new Event("input", { bubbles: true }));
    return start;
  }

  function say(composer, text) {
    const note = composer.querySelector(".saved-reply-blanks-note");
    if (note) note.textContent = text;
  }

  // The conversation's contact (the picker carries it), else the contact picked in a To field
  // with a suggestion list (the New conversation page): its option carries what it knows.
  function knownValues(state) {
    const source = state.picker.dataset.known && document.getElementById(state.picker.dataset.known);
    if (source) return JSON.parse(source.textContent);
    const to = state.composer.querySelector("input[list]");
    const list = to && document.getElementById(to.getAttribute("list"));
    const option = list && Array.from(list.options).find((o) => o.value === to.value);
    return option?.dataset.blanks ? JSON.parse(option.dataset.blanks) : {};
  }

  function refill(state) {
    const box = state.composer.elements.message;
    if (!box) return;
    const next = render(state.body, state.values);
    const at = box.value.startsWith(state.text, state.start)
      ? state.start
      : box.value.indexOf(state.text);
    if (at < 0) {
      say(state.composer, "The message was changed by hand: fill in what is left in the Message box.");
      return;
    }
    box.setRangeText(next, at, at + state.text.length, "preserve");
    state.start = at;
    state.text = next;
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function fillKnown(state) {
    const known = knownValues(state);
    for (const input of state.composer.querySelectorAll("[data-blank]")) {
      const name = input.dataset.blank;
      if (input.value || input.dataset.touched || !Object.hasOwn(known, name)) continue;
      input.value = known[name];
      state.values.set(name, known[name]);
    }
    refill(state);
  }

  // One labelled input per blank in `names`, filling them into `body`, which stands in the
  // Message box from `start`.
  function askBlanks(picker, composer, names, body, start) {
    const fieldset = composer.querySelector(".saved-reply-blanks");
    if (!fieldset) return;
    const holder = fieldset.querySelector(".saved-reply-blank-fields");
    holder.replaceChildren();
    say(composer, "");
    filling.delete(composer);
    fieldset.hidden = names.length === 0;
    if (!names.length) return;
    for (const name of names) {
      const row = document.createElement("div");
      const tag = document.createElement("label");
      const input = document.createElement("input");
      input.type = "text";
      input.id = `blank-${name}`;
      input.dataset.blank = name;
      input.autocomplete = "off";
      tag.htmlFor = input.id;
      tag.textContent = label(name);
      row.append(tag, input);
      holder.append(row);
    }
    const state = { picker, composer, body, text: body, start, values: new Map() };
    filling.set(composer, state);
    fillKnown(state);
    const empty = Array.from(holder.querySelectorAll("input")).find((input) => !input.value);
    (empty ?? holder.querySelector("input")).focus();
  }

  function savedBodies(picker) {
    const source = document.getElementById(picker.dataset.bodies);
    return source ? JSON.parse(source.textContent) : {};
  }

  // A composer the server sent back because a blank was left (its hidden id still names the
  // reply): ask again for the blanks still in the message, filling them into it as it stands.
  function resume(composer) {
    const hidden = composer.querySelector("input[name=saved_reply_id]");
    const box = composer.elements.message;
    const picker = document.querySelector("form[data-saved-replies]");
    if (!hidden?.value || !box || !picker || filling.has(composer)) return;
    const bodies = savedBodies(picker);
    if (!Object.hasOwn(bodies, hidden.value)) return;
    const left = placeholders(bodies[hidden.value]).filter((n) => box.value.includes(`{${n}}`));
    askBlanks(picker, composer, left, box.value, 0);
  }

  function resumeAll(root) {
    for (const hidden of root.querySelectorAll("input[name=saved_reply_id]")) {
      if (hidden.form) resume(hidden.form);
    }
  }

  document.addEventListener("submit", (event) => {
    const picker = event.target;
    if (!(picker instanceof HTMLFormElement) || !picker.matches("form[data-saved-replies]")) return;
    // The reply box is swapped by htmx after each send: look it up when it is needed.
    const box = document.getElementById(picker.dataset.savedReplies);
    const select = picker.querySelector("select");
    const bodies = savedBodies(picker);
    // Without them the plain GET fills the box instead.
    if (!box || !select || !Object.hasOwn(bodies, select.value)) return;
    event.preventDefault();
    const body = bodies[select.value];
    const start = insert(box, body);
    const composer = box.form;
    if (composer) {
      const hidden = composer.querySelector("input[name=saved_reply_id]");
      if (hidden) hidden.value = select.value;
      askBlanks(picker, composer, placeholders(body), body, start);
    }
    const status = picker.querySelector(".saved-reply-status");
    const name = select.selectedOptions[0]?.textContent ?? "";
    if (status) {
      status.textContent = placeholders(body).length
        ? `Inserted “${name}”. Fill in its blanks under the message before sending.`
        : `Inserted “${name}”.`;
    }
  });

  document.addEventListener("input", (event) => {
    const target = event.target;
    if (!(target instanceof HTMLInputElement) || !target.form) return;
    const state = filling.get(target.form);
    if (!state) return;
    if (target.dataset.blank !== undefined) {
      target.dataset.touched = "1";
      state.values.set(target.dataset.blank, target.value);
      refill(state);
    } else if (target.hasAttribute("list")) {
      fillKnown(state); // a contact was picked in To after the reply was inserted
    }
  });

  resumeAll(document);
  // A reply box htmx swapped in with the server's refusal.
  document.addEventListener("htmx:load", (event) => resumeAll(event.target));
})();
