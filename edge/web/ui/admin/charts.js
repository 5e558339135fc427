// SVG charts built in code (no library, nothing inline for the CSP): a bar chart of one
// series, with the value axis from zero (negative bars for net returns go below it).

const SVG = "http://www.w3.org/2000/svg";

function node(name, attrs = {}, text = undefined) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * Return an <svg> bar chart. `points` is [{label, value}], `format(value)` labels the axis
 * and the tooltips, `title` names the chart for screen readers.
 */
export function barChart(points, { format = String, title = "", height = 220 } = {}) {
  const width = 720;
  const pad = { left: 72, right: 12, top: 12, bottom: 28 };
  const values = points.map((p) => p.value);
  const top = Math.max(0, ...values);
  const bottom = Math.min(0, ...values);
  const span = top - bottom || 1;
  const plotH = height - pad.top - pad.bottom;
  const plotW = width - pad.left - pad.right;
  const y = (v) => pad.top + ((top - v) / span) * plotH;
  const svg = node("svg", {
    viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title,
  });
  svg.append(node("title", {}, title));
  for (const tick of [top, (top + bottom) / 2, bottom]) {
    svg.append(node("line", {
      x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), class: "grid",
    }));
    svg.append(node("text", {
      x: pad.left - 6, y: y(tick) + 4, "text-anchor": "end", class: "axis",
    }, format(Math.round(tick))));
  }
  const slot = plotW / Math.max(points.length, 1);
  const every = Math.ceil(points.length / 24);
  points.forEach((point, i) => {
    const x = pad.left + i * slot;
    const y0 = y(Math.max(point.value, 0));
    const h = Math.abs(y(point.value) - y(0));
    const bar = node("rect", {
      x: x + slot * 0.15, y: y0, width: Math.max(slot * 0.7, 1), height: Math.max(h, 0),
      class: point.value < 0 ? "bar negative" : "bar", "data-label": point.label,
      "data-value": point.value,
    });
    bar.append(node("title", {}, `${point.label}: ${format(point.value)}`));
    svg.append(bar);
    if (i % every === 0) {
      svg.append(node("text", {
        x: x + slot / 2, y: height - 8, "text-anchor": "middle", class: "axis",
      }, point.label));
    }
  });
  return svg;
}
