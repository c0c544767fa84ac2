// Interactive figures ("explorers"): a gallery script hands every run of its grid of settings
// to the page as JSON (<div class="sgdlab-explorer"><script type="application/json">); this
// script draws them as SVG and adds a labelled control per setting. A control moves along the
// grid's own values only, so every frame shown is one of the stored torch.optim.SGD runs.
// Shipped once with the site (docs/_static); no library, no request.
(() => {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  // A wide panel takes the column's width; two narrow ones share it, drawn on a smaller
  // canvas so that their text shows at about the same size. BOX: the plot area, SVG units.
  const WIDE = {width: 380, height: 290, box: {left: 58, top: 30, width: 300, height: 210}};
  const NARROW = {width: 300, height: 250, box: {left: 52, top: 28, width: 236, height: 180}};
  const FAR = 1e4;  // pixel coordinates are clamped to +-FAR (a diverged run leaves the box)

  function element(name, attributes = {}, parent = null) {
    const made = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) made.setAttribute(key, value);
    if (parent) parent.appendChild(made);
    return made;
  }

  function format(value, digits = 3) {
    if (typeof value === "boolean") return value ? "on" : "off";
    if (value === null || value === undefined || !Number.isFinite(value)) return "diverged";
    if (value === 0) return "0";
    const text = Math.abs(value) >= 1e-3 && Math.abs(value) < 1e4
      ? String(Number(value.toPrecision(digits)))
      : value.toExponential(digits - 1);
    return text;
  }

  // One axis: data -> SVG units, linear or log.
  function scale(axis, start, length, flip) {
    const [low, high] = axis.log ? axis.range.map(Math.log10) : axis.range;
    return (value) => {
      if (value === null || !Number.isFinite(value) || (axis.log && value <= 0)) return null;
      const u = ((axis.log ? Math.log10(value) : value) - low) / (high - low);
      const pixel = flip ? start + length * (1 - u) : start + length * u;
      return Math.max(-FAR, Math.min(FAR, pixel));
    };
  }

  function ticks(axis) {
    const [low, high] = axis.range;
    if (axis.log) {
      const found = [];
      for (let k = Math.ceil(Math.log10(low)); k <= Math.floor(Math.log10(high)); k++) found.push(10 ** k);
      const step = Math.ceil(found.length / 6);
      return found.filter((_, i) => i % step === 0);
    }
    const raw = (high - low) / 5, power = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
    const found = [];
    for (let t = Math.ceil(low / step) * step; t <= high + 1e-9 * step; t += step) found.push(Number(t.toPrecision(6)));
    return found;
  }

  function tickLabel(value, axis) {
    if (axis.log) {
      const k = Math.round(Math.log10(value));
      return k >= -2 && k <= 3 ? String(Number(value.toPrecision(1))) : `1e${k}`;
    }
    return String(value);
  }

  // The points of a series as an SVG "points" string: up to its first missing (diverged) value.
  function points(xs, ys, sx, sy) {
    const found = [];
    for (let i = 0; i < ys.length; i++) {
      const x = sx(xs ? xs[i] : i), y = sy(ys[i]);
      if (x === null || y === null) break;
      found.push(`${x.toFixed(2)},${y.toFixed(2)}`);
    }
    return found.join(" ");
  }

  let clipCount = 0;

  function drawPanel(panel, holder) {
    const figure = document.createElement("figure");
    figure.className = panel.wide ? "sgdlab-explorer-panel sgdlab-explorer-wide" : "sgdlab-explorer-panel";
    holder.appendChild(figure);
    const {width: WIDTH, height: HEIGHT, box: BOX} = panel.wide ? WIDE : NARROW;
    const svg = element("svg", {viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img",
                                "aria-label": panel.title}, figure);
    const sx = scale(panel.x, BOX.left, BOX.width, false);
    const sy = scale(panel.y, BOX.top, BOX.height, true);
    Object.assign(svg.dataset, {
      xRange: panel.x.range.join(","), yRange: panel.y.range.join(","),
      xLog: String(Boolean(panel.x.log)), yLog: String(Boolean(panel.y.log)),
      box: [BOX.left, BOX.top, BOX.width, BOX.height].join(","),
    });
    element("text", {x: BOX.left, y: 16, class: "sgdlab-explorer-title"}, svg).textContent = panel.title;
    const clip = `sgdlab-explorer-clip-${++clipCount}`;
    element("rect", {x: BOX.left, y: BOX.top, width: BOX.width, height: BOX.height},
            element("clipPath", {id: clip}, element("defs", {}, svg)));
    element("rect", {x: BOX.left, y: BOX.top, width: BOX.width, height: BOX.height, class: "sgdlab-explorer-frame"}, svg);
    for (const t of ticks(panel.x)) {
      const x = sx(t);
      element("line", {x1: x, x2: x, y1: BOX.top + BOX.height, y2: BOX.top + BOX.height + 4, class: "sgdlab-explorer-axis"}, svg);
      element("text", {x, y: BOX.top + BOX.height + 16, "text-anchor": "middle", class: "sgdlab-explorer-tick"}, svg)
        .textContent = tickLabel(t, panel.x);
    }
    for (const t of ticks(panel.y)) {
      const y = sy(t);
      element("line", {x1: BOX.left - 4, x2: BOX.left, y1: y, y2: y, class: "sgdlab-explorer-axis"}, svg);
      element("text", {x: BOX.left - 6, y: y + 4, "text-anchor": "end", class: "sgdlab-explorer-tick"}, svg)
        .textContent = tickLabel(t, panel.y);
    }
    element("text", {x: BOX.left + BOX.width / 2, y: HEIGHT - 8, "text-anchor": "middle", class: "sgdlab-explorer-label"}, svg)
      .textContent = panel.x.label;
    element("text", {x: 14, y: BOX.top + BOX.height / 2, "text-anchor": "middle", class: "sgdlab-explorer-label",
                     transform: `rotate(-90 14 ${BOX.top + BOX.height / 2})`}, svg).textContent = panel.y.label;
    const plot = element("g", {"clip-path": `url(#${clip})`}, svg);
    for (const line of panel.lines || []) {
      element("polyline", {points: points(line.points.map((p) => p[0]), line.points.map((p) => p[1]), sx, sy),
                           class: `sgdlab-explorer-${line.style}`}, plot);
    }
    const dynamic = element("g", {}, plot);
    const legend = document.createElement("figcaption");
    for (const item of [...(panel.lines || []), ...(panel.series || []), ...(panel.levels || [])]) {
      if (!item.label) continue;
      const entry = document.createElement("span");
      entry.innerHTML = `<svg viewBox="0 0 20 6" aria-hidden="true"><line x1="0" y1="3" x2="20" y2="3" class="sgdlab-explorer-${item.style}"/></svg>`;
      entry.append(item.label);
      legend.appendChild(entry);
    }
    if (legend.childElementCount) figure.appendChild(legend);
    // Draw one run (and the current settings) over the static lines.
    return (run, settings) => {
      dynamic.replaceChildren();
      for (const series of panel.series || []) {
        element("polyline", {points: points(series.x ? run[series.x] : null, run[series.y], sx, sy),
                             class: `sgdlab-explorer-${series.style}`, "data-series": series.y}, dynamic);
      }
      for (const level of panel.levels || []) {
        const y = sy(run[level.y]);
        if (y !== null) element("line", {x1: BOX.left, x2: BOX.left + BOX.width, y1: y, y2: y,
                                         class: `sgdlab-explorer-${level.style}`, "data-level": level.y}, dynamic);
      }
      if (panel.marker) {
        const value = (name) => (name in settings ? settings[name] : run[name]);
        const x = sx(value(panel.marker.x)), y = sy(value(panel.marker.y));
        if (x !== null && y !== null) element("circle", {cx: x, cy: y, r: 5, class: "sgdlab-explorer-marker"}, dynamic);
      }
    };
  }

  function build(holder) {
    const spec = JSON.parse(holder.querySelector("script[type='application/json']").textContent);
    holder.querySelectorAll(":scope > :not(script)").forEach((node) => node.remove());
    holder.classList.add("sgdlab-explorer-ready");
    const id = `sgdlab-explorer-${++clipCount}`;
    const controls = document.createElement("form");
    controls.className = "sgdlab-explorer-controls";
    controls.setAttribute("aria-label", spec.title);
    holder.appendChild(controls);
    const inputs = spec.controls.map((control) => {
      const row = document.createElement("div");
      const input = document.createElement("input");
      input.id = `${id}-${control.name}`;
      input.name = control.name;
      const label = document.createElement("label");
      label.htmlFor = input.id;
      label.textContent = control.label;
      if (control.switch) {
        input.type = "checkbox";
        input.checked = Boolean(control.values[control.start]);
        row.append(input, label);
      } else {
        Object.assign(input, {type: "range", min: 0, max: control.values.length - 1, step: 1});
        input.value = control.start;
        const shown = document.createElement("output");
        shown.htmlFor = input.id;
        row.append(label, input, shown);
      }
      controls.appendChild(row);
      return input;
    });
    const panels = document.createElement("div");
    panels.className = "sgdlab-explorer-panels";
    holder.appendChild(panels);
    const drawers = spec.panels.map((panel) => drawPanel(panel, panels));
    const readout = document.createElement("p");
    readout.className = "sgdlab-explorer-readout";
    readout.setAttribute("aria-live", "polite");
    holder.appendChild(readout);
    const note = document.createElement("p");
    note.className = "sgdlab-explorer-note";
    note.textContent = spec.note;
    holder.appendChild(note);

    function update() {
      const indices = inputs.map((input) => (input.type === "checkbox" ? Number(input.checked) : Number(input.value)));
      let flat = 0;
      spec.controls.forEach((control, i) => { flat = flat * control.values.length + indices[i]; });
      const run = spec.runs[flat];
      const settings = Object.fromEntries(spec.controls.map((control, i) => [control.name, control.values[indices[i]]]));
      inputs.forEach((input, i) => {
        if (input.type === "range") {
          const text = format(spec.controls[i].values[indices[i]]);
          input.setAttribute("aria-valuetext", text);
          input.nextElementSibling.textContent = text;
        }
      });
      drawers.forEach((draw) => draw(run, settings));
      holder.dataset.run = String(flat);
      readout.replaceChildren();
      for (const [label, name] of spec.readout) {
        const value = name in settings ? settings[name] : run[name];
        const part = document.createElement("span");
        part.dataset.field = name;
        part.textContent = `${label} ${format(value)}`;
        readout.appendChild(part);
      }
    }
    controls.addEventListener("input", update);
    controls.addEventListener("change", update);
    controls.addEventListener("submit", (event) => event.preventDefault());
    update();
  }

  function start() {
    document.querySelectorAll(".sgdlab-explorer:not(.sgdlab-explorer-ready)").forEach(build);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
