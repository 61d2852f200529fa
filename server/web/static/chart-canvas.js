"use strict";
// The chart fallback when uPlot is not installed: a plain canvas with colour bands, threshold lines, min-max envelope.
const CanvasChart = {
  series(data) {
    if (data.points) return data.points.map((p) => ({ t: Date.parse(p.time), v: p.value, lo: p.value, hi: p.value, q: p.quality || "normal" }));
    return (data.buckets || []).map((b) => ({ t: Date.parse(b.time), v: b.avg, lo: b.min, hi: b.max }));
  },

  draw(canvas, sensor, data) {
    const ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height, pad = { l: 48, r: 12, t: 10, b: 26 };
    ctx.clearRect(0, 0, W, H);
    const points = this.series(data);
    const start = Date.parse(data.start), end = Date.parse(data.end);
    const values = points.flatMap((p) => [p.lo, p.hi]).concat(sensor.thresholds.map((th) => th.value))
      .concat((data.flagged || []).map((p) => p.value));
    let lo = Math.min(0, ...values), hi = Math.max(1, ...values);
    hi += (hi - lo) * 0.1;
    const x = (t) => pad.l + ((t - start) / (end - start)) * (W - pad.l - pad.r);
    const y = (v) => H - pad.b - ((v - lo) / (hi - lo)) * (H - pad.t - pad.b);
    this.drawBands(ctx, sensor.kind, y, lo, hi, pad, W);
    this.drawAxes(ctx, start, end, lo, hi, x, y, pad, W, H);
    this.drawThresholds(ctx, sensor.thresholds, y, pad, W);
    if (!points.length) {
      ctx.fillStyle = "#8b949e"; ctx.font = "14px sans-serif"; ctx.fillText(I18N.t("no_data"), W / 2 - 40, H / 2);
    }
    this.drawSeries(ctx, points, x, y);
    canvas.dataset.points = String(points.length);
    const flagged = (data.flagged || []).map((p) => ({ t: Date.parse(p.time), v: p.value, q: p.quality }));
    canvas.dataset.flagged = String(this.drawFlagged(ctx, [...points, ...flagged], x, y));
    return points.length;
  },

  drawBands(ctx, kind, y, lo, hi, pad, W) {
    for (const band of Chart.bandsOf(kind) || []) {
      const top = Math.min(band.to, hi), bottom = Math.max(band.from, lo);
      if (top <= bottom) continue;
      ctx.fillStyle = band.color + "22";
      ctx.fillRect(pad.l, y(top), W - pad.l - pad.r, y(bottom) - y(top));
    }
  },

  drawAxes(ctx, start, end, lo, hi, x, y, pad, W, H) {
    ctx.strokeStyle = "#30363d"; ctx.fillStyle = "#8b949e"; ctx.font = "11px sans-serif"; ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      ctx.beginPath(); ctx.moveTo(pad.l, y(v)); ctx.lineTo(W - pad.r, y(v)); ctx.stroke();
      ctx.fillText(v.toFixed(hi - lo < 10 ? 1 : 0), 4, y(v) + 4);
    }
    for (let i = 0; i <= 6; i++) {
      const t = start + ((end - start) * i) / 6;
      const label = (end - start) > 2 * 86400e3 ? I18N.time(t, true).slice(0, 10) : I18N.time(t, false).slice(0, 5);
      ctx.fillText(label, Math.min(x(t) - 14, W - 70), H - 8);
    }
  },

  drawThresholds(ctx, thresholds, y, pad, W) {
    const colors = { critical: "#f85149", warning: "#d29922", info: "#388bfd" };
    ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5; ctx.font = "11px sans-serif";
    for (const th of thresholds) {
      ctx.strokeStyle = colors[th.severity] || "#aaa"; ctx.fillStyle = ctx.strokeStyle;
      ctx.beginPath(); ctx.moveTo(pad.l, y(th.value)); ctx.lineTo(W - pad.r, y(th.value)); ctx.stroke();
      ctx.fillText(`${th.value} · ${th.name}`, pad.l + 4, y(th.value) - 3);
    }
    ctx.setLineDash([]);
  },

  drawSeries(ctx, points, x, y) {
    if (points.some((p) => p.hi !== p.lo)) {
      ctx.fillStyle = "rgba(88,166,255,0.18)";
      ctx.beginPath();
      points.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.hi)) : ctx.moveTo(x(p.t), y(p.hi))));
      [...points].reverse().forEach((p) => ctx.lineTo(x(p.t), y(p.lo)));
      ctx.fill();
    }
    ctx.strokeStyle = "#58a6ff"; ctx.lineWidth = 2; ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.v)) : ctx.moveTo(x(p.t), y(p.v))));
    ctx.stroke();
    if (points.length < 60) {
      ctx.fillStyle = "#58a6ff";
      points.forEach((p) => { ctx.beginPath(); ctx.arc(x(p.t), y(p.v), 2.5, 0, 2 * Math.PI); ctx.fill(); });
    }
  },

  // Calibrating (orange) and instrument-error (red) readings: hollow squares over the line.
  drawFlagged(ctx, points, x, y) {
    const flagged = points.filter((p) => p.q && p.q !== "normal");
    ctx.lineWidth = 2;
    for (const p of flagged) {
      ctx.strokeStyle = p.q === "error" ? "#f85149" : "#d29922";
      ctx.strokeRect(x(p.t) - 4, y(p.v) - 4, 8, 8);
    }
    return flagged.length;
  },

};
window.CanvasChart = CanvasChart;
