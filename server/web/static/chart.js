"use strict";
// Sensor charts drawn by uPlot (npm, served under /static/vendor): the average line with its min-max
// envelope, the configured colour bands behind it, each alert level as a dashed line with its name,
// calibrating / error readings as squares, round ticks in the site's time zone, drag to zoom
// (double-click resets), values under the cursor in the legend. Without uPlot: CanvasChart.
// VN_AQI (QĐ 1459/QĐ-TCMT): PM2.5 24 h concentration breakpoints in µg/m³.
const VN_AQI = [
  { from: 0, to: 25, color: "#00e400", key: "aqi_good", aqi: [0, 50] },
  { from: 25, to: 50, color: "#ffff00", key: "aqi_moderate", aqi: [50, 100] },
  { from: 50, to: 80, color: "#ff7e00", key: "aqi_poor", aqi: [100, 150] },
  { from: 80, to: 150, color: "#ff0000", key: "aqi_bad", aqi: [150, 200] },
  { from: 150, to: 250, color: "#8f3f97", key: "aqi_very_bad", aqi: [200, 300] },
  { from: 250, to: Infinity, color: "#7e0023", key: "aqi_hazardous", aqi: [300, 500] },
];
const LEVEL_COLOURS = { critical: "#f85149", warning: "#d29922", info: "#58a6ff" };

const Chart = {
  configured: {},   // sensor kind -> bands from streams.yaml (console.bands)
  plot: null,       // the uPlot instance; read by the browser tests

  setBands(bands) {
    this.configured = {};
    Object.entries(bands || {}).forEach(([kind, list]) => {
      let from = -Infinity;
      this.configured[kind] = list.map((band) => {
        const out = { from, to: band.below === null || band.below === undefined ? Infinity : band.below, color: band.colour, label: band.label };
        from = out.to;
        return out;
      });
    });
  },

  bandsOf(kind) { return kind === "pm25" ? VN_AQI : this.configured[kind] || []; },

  bandLabel(band) { return band.label ? band.label[I18N.lang] || band.label.vi : I18N.t(band.key); },

  bandOf(kind, value) {
    const bands = this.bandsOf(kind);
    if (!bands.length || value === null || value === undefined) return null;
    return bands.find((band) => value >= band.from && value < band.to) || bands[bands.length - 1];
  },

  vnAqi(pm25) {
    const band = this.bandOf("pm25", pm25);
    if (!band) return null;
    const from = Math.max(0, band.from), to = Number.isFinite(band.to) ? band.to : 500;
    return Math.round(band.aqi[0] + ((pm25 - from) * (band.aqi[1] - band.aqi[0])) / (to - from));
  },

  columns(data) {
    const rows = data.points
      ? data.points.map((p) => [Date.parse(p.time) / 1e3, p.value, p.value, p.value])
      : (data.buckets || []).map((b) => [Date.parse(b.time) / 1e3, b.avg, b.min, b.max]);
    const flagged = new Map((data.points || []).filter((p) => p.quality && p.quality !== "normal").map((p) => [Date.parse(p.time) / 1e3, p.value]));
    (data.flagged || []).forEach((p) => { const t = Date.parse(p.time) / 1e3; flagged.set(t, p.value); if (!rows.some((r) => r[0] === t)) rows.push([t, null, null, null]); });
    rows.sort((a, b) => a[0] - b[0]);
    return [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3]), rows.map((r) => (flagged.has(r[0]) ? flagged.get(r[0]) : null))];
  },

  // Tick labels in the site's time zone: times for short ranges, day/month for long ones.
  timeLabels(splits, increment) {
    const long = increment >= 86400;
    const options = long ? { day: "2-digit", month: "2-digit" } : { hour: "2-digit", minute: "2-digit", hour12: false };
    const format = new Intl.DateTimeFormat(I18N.lang === "vi" ? "vi-VN" : "en-GB", { timeZone: I18N.timeZone, ...options });
    const label = (t) => {
      if (!long) return format.format(new Date(t * 1e3));
      const parts = Object.fromEntries(format.formatToParts(new Date(t * 1e3)).map((p) => [p.type, p.value]));
      return `${parts.day}/${parts.month}`;
    };
    return splits.map(label);
  },

  draw(box, sensor, data) {
    const columns = this.columns(data);
    box.dataset.points = String(data.points ? data.points.length : (data.buckets || []).length);
    box.dataset.flagged = String(columns[4].filter((v) => v !== null).length);
    if (this.plot) { this.plot.destroy(); this.plot = null; }
    box.innerHTML = "";
    if (!window.uPlot) return this.drawCanvas(box, sensor, data);
    const levels = sensor.thresholds;
    const bands = this.bandsOf(sensor.kind);
    const start = Date.parse(data.start) / 1e3, end = Date.parse(data.end) / 1e3;
    const unit = sensor.unit;
    const value = (u, v) => (v === null || v === undefined ? "–" : `${I18N.number(v)} ${unit}`);
    const options = {
      width: Math.max(300, box.clientWidth || 900), height: 380,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), I18N.timeZone),
      scales: {
        x: { time: true, min: start, max: end },
        y: { range: (u, lo, hi) => this.yRange(lo, hi, levels) },
      },
      axes: [
        { stroke: "#c9d1d9", grid: { stroke: "#30363d" }, ticks: { stroke: "#30363d" }, values: (u, splits, i, space, incr) => this.timeLabels(splits, incr) },
        { stroke: "#c9d1d9", grid: { stroke: "#30363d" }, ticks: { stroke: "#30363d" }, size: 56, values: (u, splits) => splits.map((v) => I18N.number(v, 3)) },
      ],
      series: [
        { label: I18N.t("time"), value: (u, ts) => (ts ? I18N.time(ts * 1e3) : "–") },
        { label: I18N.t("series_avg"), stroke: "#58a6ff", width: 2, value, points: { show: columns[0].length < 80 } },
        { label: I18N.t("series_min"), stroke: "rgba(88,166,255,0.35)", width: 1, value },
        { label: I18N.t("series_max"), stroke: "rgba(88,166,255,0.35)", width: 1, value },
        { label: I18N.t("series_flagged"), stroke: "#d29922", width: 0, paths: () => null, value, points: { show: true, size: 9, stroke: "#d29922", fill: "transparent", width: 2 } },
      ],
      bands: [{ series: [3, 2], fill: "rgba(88,166,255,0.15)" }],
      cursor: { drag: { x: true, y: false, setScale: true } },
      legend: { live: true },
      hooks: {
        drawAxes: [(u) => this.paintBands(u, bands)],
        draw: [(u) => this.paintLevels(u, levels)],
      },
    };
    this.plot = new uPlot(options, columns, box);
    box.querySelector(".u-over").addEventListener("dblclick", () => this.plot.setScale("x", { min: start, max: end }));
    return columns[0].length;
  },

  // The y range holds the data and every alert level, with round ends.
  yRange(lo, hi, levels) {
    const values = [lo, hi, ...levels.map((l) => l.value)].filter((v) => v !== null && Number.isFinite(v));
    let min = Math.min(0, ...values), max = Math.max(1, ...values);
    max += (max - min) * 0.08;
    return uPlot.rangeNum(min, max, 0.05, true);
  },

  paintBands(u, bands) {
    const ctx = u.ctx, [lo, hi] = [u.scales.y.min, u.scales.y.max];
    ctx.save();
    for (const band of bands) {
      const top = Math.min(band.to, hi), bottom = Math.max(band.from, lo);
      if (top <= bottom) continue;
      const y0 = u.valToPos(top, "y", true), y1 = u.valToPos(bottom, "y", true);
      ctx.fillStyle = `${band.color}26`;
      ctx.fillRect(u.bbox.left, y0, u.bbox.width, y1 - y0);
    }
    ctx.restore();
  },

  paintLevels(u, levels) {
    const ctx = u.ctx, ratio = window.devicePixelRatio || 1;
    ctx.save();
    ctx.setLineDash([6 * ratio, 4 * ratio]);
    ctx.lineWidth = 1.5 * ratio;
    ctx.font = `${11 * ratio}px sans-serif`;
    ctx.textAlign = "left";
    ctx.textBaseline = "bottom";
    for (const level of levels) {
      const y = u.valToPos(level.value, "y", true);
      ctx.strokeStyle = ctx.fillStyle = LEVEL_COLOURS[level.severity] || "#aaa";
      ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
      ctx.fillText(`${I18N.number(level.value)} · ${level.name}`, u.bbox.left + 4 * ratio, y - 3 * ratio);
    }
    ctx.restore();
  },

  drawCanvas(box, sensor, data) {
    const canvas = document.createElement("canvas");
    canvas.width = 900; canvas.height = 360;
    box.appendChild(canvas);
    return CanvasChart.draw(canvas, sensor, data);
  },

  legend(element, kind) {
    element.innerHTML = "";
    for (const band of this.bandsOf(kind)) {
      const item = document.createElement("span");
      item.innerHTML = `<span class="swatch" style="background:${band.color}"></span>`;
      item.append(this.bandLabel(band));
      element.appendChild(item);
    }
  },
};
window.Chart = Chart;
