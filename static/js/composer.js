// The live segment counter under every message box (textarea[data-composer]).
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
    const text = describe(count, textarea.dataset.pricePerSegment);
    settle(counter, count, typing);
    if (counter.textContent !== text) counter.textContent = text;
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
