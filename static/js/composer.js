// The live segment counter under every message box (textarea[data-composer]), and the Attach
// button beside it (input[data-attach]): thumbnails, remove, drag-and-drop, paste, MMS counter.
//
// The GSM-7 table and the limits come from the page (a json_script block rendered from
// messaging/segments.py, named by data-composer); this file only repeats the packing rule of
// count_segments() and the wording of describe(), and tests/test_segments.py pins both.
(() => {
  const tables = new Map();
  const wired = new WeakSet();

  function tableFor(id) {
    if (!tables.has(id)) {
      const source = document.getElementById(id);
      if (!source) return null;
      const data = JSON.parse(source.textContent);
      tables.set(id, {
        basic: new Set(data.basic),
        extension: new Set(data.extension),
        limits: data.limits,
      });
    }
    return tables.get(id);
  }

  function countSegments(text, table) {
    // for...of walks code points, as Python's str does: an emoji is one character of 2 units.
    const chars = Array.from(text);
    const culprit = chars.find((ch) => !table.basic.has(ch) && !table.extension.has(ch)) ?? null;
    const encoding = culprit === null ? "GSM-7" : "UCS-2";
    const weights = chars.map((ch) =>
      culprit === null ? (table.extension.has(ch) ? 2 : 1) : ch.length,
    );
    const [single, part] = table.limits[encoding];
    const units = weights.reduce((sum, weight) => sum + weight, 0);
    if (units <= single) {
      return { encoding, units, segments: units ? 1 : 0, remaining: single - units, culprit };
    }
    // An escape pair or a surrogate pair is never cut in two: it moves whole to the next part.
    let segments = 1;
    let used = 0;
    for (const weight of weights) {
      if (used + weight > part) {
        segments += 1;
        used = 0;
      }
      used += weight;
    }
    return { encoding, units, segments, remaining: part - used, culprit };
  }

  function culpritLabel(ch) {
    if (/^[\p{C}\p{Z}]/u.test(ch)) {
      return `U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
    }
    return `“${ch}”`;
  }

  // price × segments rounded half up to 4 places, in decimal (no binary floating point), so it
  // reads exactly as messaging.segments.format_cost() does.
  function formatCost(price, segments) {
    const match = /^(\d*)(?:\.(\d*))?$/.exec(price.trim());
    if (!match || !(match[1] || match[2])) return null;
    const fraction = match[2] || "";
    let value = BigInt((match[1] || "0") + fraction) * BigInt(segments);
    if (fraction.length > 4) {
      const divisor = 10n ** BigInt(fraction.length - 4);
      value = (value + divisor / 2n) / divisor;
    } else {
      value *= 10n ** BigInt(4 - fraction.length);
    }
    const digits = value.toString().padStart(5, "0");
    return `${digits.slice(0, -4)}.${digits.slice(-4)}`;
  }

  function describe(count, price) {
    const noun = count.segments === 1 ? "segment" : "segments";
    const parts = [`${count.units} / ${count.units + count.remaining}`, `${count.segments} ${noun}`];
    parts.push(
      count.culprit === null
        ? count.encoding
        : `${count.encoding} because of ${culpritLabel(count.culprit)}`,
    );
    const cost = price && count.segments ? formatCost(price, count.segments) : null;
    if (cost !== null) parts.push(`≈ $${cost}`);
    return parts.join(" · ");
  }

  // The counter is a polite live region, but nobody wants it read at every keystroke: while the
  // user types it is marked busy (screen readers hold its changes back), and it is released when
  // the text crosses into another segment or encoding, or when typing pauses.
  const PAUSE_MS = 1500;
  const lastCount = new WeakMap();
  const pauses = new WeakMap();

  function settle(counter, count, typing) {
    const before = lastCount.get(counter);
    lastCount.set(counter, count);
    clearTimeout(pauses.get(counter));
    const crossed =
      before && (before.segments !== count.segments || before.encoding !== count.encoding);
    if (!typing || crossed) {
      counter.setAttribute("aria-busy", "false");
      return;
    }
    counter.setAttribute("aria-busy", "true");
    pauses.set(
      counter,
      setTimeout(() => counter.setAttribute("aria-busy", "false"), PAUSE_MS),
    );
  }

  function update(textarea, typing = false) {
    const table = tableFor(textarea.dataset.composer);
    const counter = document.getElementById(textarea.dataset.composerCounter);
    if (!table || !counter) return;
    const count = countSegments(textarea.value, table);
    // With files attached it is an MMS: one message, whatever the text's length.
    const attached = attachments.get(textarea.form);
    const text = attached?.files.length
      ? describeMms(attached)
      : describe(count, textarea.dataset.pricePerSegment);
    settle(counter, attached?.files.length ? { segments: 1, encoding: "MMS" } : count, typing);
    if (counter.textContent !== text) counter.textContent = text;
  }

  // --- Attachments (an MMS): the Attach input of messaging/widgets.py AttachInput --------------
  //
  // The input itself holds the files (its FileList is rebuilt from `files` after every change),
  // so a plain submit and htmx's multipart submit both send exactly what the thumbnails show.
  // Limits shown here are a courtesy; the server decides (messaging/services/outbound_media.py).

  const attachments = new WeakMap(); // form → { input, files, urls, list, note }
  const MB = 1024 * 1024;
  // Photos the server may re-encode to fit; other files count at their size.
  const SHRINKABLE = new Set(["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"]);
  const PREVIEWABLE = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

  // As outbound_media.megabytes(): rounded up to a tenth.
  const megabytes = (bytes) => `${(Math.ceil((bytes * 10) / MB) / 10).toFixed(1)} MB`;
  const limitText = (bytes) => `${+(bytes / MB).toFixed(2)} MB`;
  // One file's size, beside its name: small files in KB, so they do not all read "0.1 MB".
  const fileSize = (bytes) =>
    bytes < MB / 10 ? `${Math.max(1, Math.ceil(bytes / 1024))} KB` : megabytes(bytes);

  function describeMms(state) {
    const { files, input } = state;
    const total = files.reduce((sum, file) => sum + file.size, 0);
    const noun = files.length === 1 ? "file" : "files";
    const parts = ["MMS", `${files.length} ${noun}`];
    parts.push(`${megabytes(total)} of ${limitText(+input.dataset.maxBytes)}`);
    const cost = input.dataset.mmsPrice ? formatCost(input.dataset.mmsPrice, 1) : null;
    if (cost !== null) parts.push(`≈ $${cost}`);
    return parts.join(" · ");
  }

  function kindLabel(file) {
    const ext = (file.name.match(/\.([A-Za-z0-9]{1,5})$/)?.[1] ?? "").toUpperCase();
    return ext || file.type.split("/")[1]?.toUpperCase() || "FILE";
  }

  // What would be refused, said before sending: too many files, or more than the limit of files
  // that cannot be shrunk.
  function problems(state) {
    const { files, input } = state;
    const maxFiles = +input.dataset.maxFiles;
    const maxBytes = +input.dataset.maxBytes;
    const said = [];
    if (files.length > maxFiles) {
      said.push(`At most ${maxFiles} files in one message; you attached ${files.length}.`);
    }
    const fixed = files.filter((file) => !SHRINKABLE.has(file.type));
    const fixedBytes = fixed.reduce((sum, file) => sum + file.size, 0);
    const total = files.reduce((sum, file) => sum + file.size, 0);
    if (fixedBytes > maxBytes) {
      said.push(
        `${megabytes(fixedBytes)} attached; the carrier takes at most ${limitText(maxBytes)} per message.`,
      );
    } else if (total > maxBytes) {
      said.push(`Photos will be made smaller to fit ${limitText(maxBytes)}.`);
    }
    return said;
  }

  function syncInput(state) {
    const transfer = new DataTransfer();
    state.files.forEach((file) => transfer.items.add(file));
    state.input.files = transfer.files;
  }

  function render(state) {
    const { list, files } = state;
    state.urls.forEach((url) => URL.revokeObjectURL(url));
    state.urls = [];
    list.replaceChildren(
      ...files.map((file, index) => {
        const item = document.createElement("li");
        item.className = "attach-item";
        if (PREVIEWABLE.has(file.type)) {
          const img = document.createElement("img");
          const url = URL.createObjectURL(file);
          state.urls.push(url);
          img.src = url;
          img.alt = "";
          img.className = "attach-thumb";
          item.append(img);
        } else {
          const kind = document.createElement("span");
          kind.className = "attach-thumb attach-kind";
          kind.textContent = kindLabel(file);
          kind.setAttribute("aria-hidden", "true");
          item.append(kind);
        }
        const name = document.createElement("span");
        name.className = "attach-name";
        name.textContent = `${file.name} (${fileSize(file.size)})`;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "attach-remove";
        remove.textContent = "✕";
        remove.setAttribute("aria-label", `Remove ${file.name}`);
        remove.addEventListener("click", () => {
          state.files.splice(index, 1);
          changed(state);
          // Keep the keyboard in the list: the next file's remove button, else Attach.
          const buttons = list.querySelectorAll(".attach-remove");
          (buttons[Math.min(index, buttons.length - 1)] ?? state.input).focus();
        });
        item.append(name, remove);
        return item;
      }),
    );
    list.hidden = files.length === 0;
  }

  function showNote(state) {
    const refusal = didRefusal(state);
    const said = refusal ? [refusal] : [];
    said.push(...problems(state));
    state.note.textContent = said.join(" ");
    state.note.hidden = said.length === 0;
    state.note.classList.toggle("error-text", said.some((text) => !text.startsWith("Photos")));
  }

  function changed(state) {
    syncInput(state);
    render(state);
    followDid(state);
    const textarea = state.input.form?.querySelector("textarea[data-composer]");
    if (textarea) update(textarea);
  }

  function add(state, fileList) {
    if (state.input.disabled) return;
    const added = Array.from(fileList ?? []).filter((file) => file.size > 0 || file.name);
    if (!added.length) return;
    state.files.push(...added);
    changed(state);
  }

  // Why the chosen From DID cannot send media, if it cannot (messaging/widgets.py FromDidSelect).
  function didRefusal(state) {
    const select = state.input.form?.querySelector("select[name=from_did]");
    if (!select?.dataset.mmsRefusals) return "";
    const refusals = JSON.parse(select.dataset.mmsRefusals);
    return Object.hasOwn(refusals, select.value) ? refusals[select.value] : "";
  }

  function followDid(state) {
    const refusal = didRefusal(state);
    // Files already attached stay and are sent, so the server says why it refuses; new ones
    // cannot be added.
    state.input.disabled = Boolean(refusal) && state.files.length === 0;
    state.input.closest(".attach")?.classList.toggle("attach-disabled", Boolean(refusal));
    showNote(state);
  }

  function wireAttach(input) {
    const form = input.form;
    if (!form || attachments.has(form)) return;
    const base = input.id;
    const state = {
      input,
      files: [],
      urls: [],
      list: document.getElementById(`${base}-list`),
      note: document.getElementById(`${base}-note`),
    };
    if (!state.list || !state.note) return;
    attachments.set(form, state);
    // What the picker (or a drop on the input itself) chose is added to what was there.
    input.addEventListener("change", () => {
      const picked = Array.from(input.files);
      syncInput(state);
      add(state, picked);
    });
    form.querySelector("select[name=from_did]")?.addEventListener("change", () => {
      followDid(state);
    });
    form.addEventListener("dragover", (event) => {
      if (!event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = input.disabled ? "none" : "copy";
      form.classList.add("attach-dragging");
    });
    form.addEventListener("dragleave", (event) => {
      if (!form.contains(event.relatedTarget)) form.classList.remove("attach-dragging");
    });
    form.addEventListener("drop", (event) => {
      form.classList.remove("attach-dragging");
      if (!event.dataTransfer?.files.length) return;
      event.preventDefault();
      add(state, event.dataTransfer.files);
    });
    // A pasted picture (a screenshot) is attached; pasted text stays text.
    form.addEventListener("paste", (event) => {
      const files = event.clipboardData?.files;
      if (!files?.length) return;
      event.preventDefault();
      add(state, files);
    });
    followDid(state);
  }

  // A From DID <option> may carry its own data-price; it then replaces the box's price.
  function followPrice(textarea) {
    const select = textarea.form?.querySelector("select[name=from_did]");
    if (!select) return;
    const usePrice = () => {
      const option = select.selectedOptions[0];
      if (option && "price" in option.dataset) {
        textarea.dataset.pricePerSegment = option.dataset.price;
        update(textarea);
      }
    };
    select.addEventListener("change", usePrice);
    usePrice();
  }

  function wire(root) {
    const inputs = root.matches?.("input[data-attach]")
      ? [root]
      : root.querySelectorAll("input[data-attach]");
    inputs.forEach(wireAttach);
    const boxes = root.matches?.("textarea[data-composer]")
      ? [root]
      : root.querySelectorAll("textarea[data-composer]");
    boxes.forEach((textarea) => {
      if (wired.has(textarea)) return;
      wired.add(textarea);
      textarea.addEventListener("input", () => update(textarea, true));
      followPrice(textarea);
      update(textarea);
    });
  }

  wire(document);
  // Composers that htmx swaps in (a reply form after sending) are wired as they arrive.
  document.addEventListener("htmx:load", (event) => wire(event.target));
})();
