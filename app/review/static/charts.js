/* Pasture charts: fetch the aggregates (/api/v1/stats) and draw them with the vendored Chart.js.
 * Chart.js draws on a canvas, so labels taken from the data are never parsed as HTML. */
(function () {
  "use strict";

  const P = window.Pasture;
  const COLORS = ["#2f6b4f", "#3b78b5", "#c8553d", "#d9a21b", "#7d5ba6", "#2a9d8f", "#8c6d46", "#d16ba5",
                  "#5c7cfa", "#6a994e", "#bc4749", "#577590", "#f3722c", "#43aa8b", "#9c6644", "#4d908e",
                  "#b5838d", "#386641", "#e09f3e", "#6d597a"];
  const KEPT = "#2f6b4f";
  const REJECTED = "#c8553d";
  const COST = "#3b78b5";

  function tint(hex, amount) {
    const n = parseInt(hex.slice(1), 16);
    const mix = (c) => Math.round(c + (255 - c) * amount);
    const r = mix((n >> 16) & 255), g = mix((n >> 8) & 255), b = mix(n & 255);
    return "rgb(" + r + "," + g + "," + b + ")";
  }

  function setup() {
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#3c4641";
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.plugins.legend.labels.boxWidth = 12;
  }

  function formatTime(seconds, span) {
    const date = new Date(seconds * 1000);
    const pad = (v) => String(v).padStart(2, "0");
    const time = pad(date.getHours()) + ":" + pad(date.getMinutes());
    if (span < 120) return time + ":" + pad(date.getSeconds());
    if (span < 86400) return time;
    return (date.getMonth() + 1) + "/" + date.getDate() + " " + time;
  }

  function histogramLabels(h) {
    const labels = [];
    for (let i = 0; i < h.counts.length; i++) {
      const last = i === h.counts.length - 1;
      labels.push(last && h.overflow ? "≥ " + h.edges[i] : h.edges[i] + "–" + (h.edges[i + 1] - 1));
    }
    return labels;
  }

  function barOptions(xTitle, yTitle, extra) {
    return Object.assign({
      responsive: true,
      plugins: { legend: { display: false } },
      scales: {
        x: { title: { display: !!xTitle, text: xTitle }, grid: { display: false } },
        y: { beginAtZero: true, title: { display: !!yTitle, text: yTitle }, ticks: { precision: 0 } },
      },
    }, extra || {});
  }

  const builders = {
    timeline: function (stats) {
      const points = stats.timeline.points;
      const span = points.length ? points[points.length - 1].t - points[0].t : 0;
      return {
        type: "line",
        data: {
          labels: points.map((p) => formatTime(p.t, span)),
          datasets: [
            { label: "Kept records", data: points.map((p) => p.kept), borderColor: KEPT, backgroundColor: tint(KEPT, 0.8),
              fill: true, tension: 0.2, pointRadius: 0, yAxisID: "y" },
            { label: "Cost (USD)", data: points.map((p) => p.cost_usd), borderColor: COST, borderDash: [6, 4],
              pointRadius: 0, tension: 0.2, yAxisID: "y1" },
          ],
        },
        options: {
          responsive: true,
          interaction: { mode: "index", intersect: false },
          scales: {
            x: { ticks: { maxTicksLimit: 10 }, grid: { display: false } },
            y: { beginAtZero: true, title: { display: true, text: "kept records" }, ticks: { precision: 0 } },
            y1: { beginAtZero: true, position: "right", title: { display: true, text: "USD" }, grid: { drawOnChartArea: false } },
          },
        },
      };
    },
    similarity: function (stats) {
      const s = stats.similarity;
      const labels = s.kept.map((_, i) => s.edges[i].toFixed(2) + "–" + s.edges[i + 1].toFixed(2));
      const options = barOptions("ROUGE-L F to the most similar instruction", "candidates", {
        plugins: {
          legend: { display: true, position: "bottom" },
          subtitle: { display: s.threshold !== null, text: "rejection threshold: " + s.threshold, padding: { bottom: 6 } },
        },
      });
      options.scales.x.stacked = true;
      options.scales.y.stacked = true;
      return {
        type: "bar",
        data: {
          labels: labels,
          datasets: [
            { label: "kept", data: s.kept, backgroundColor: KEPT },
            { label: "rejected", data: s.rejected, backgroundColor: REJECTED },
          ],
        },
        options: options,
      };
    },
    rejections: function (stats) {
      const rows = stats.rejections;
      const options = barOptions("", "", { indexAxis: "y" });
      options.scales = { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { grid: { display: false } } };
      return {
        type: "bar",
        data: {
          labels: rows.map((r) => r.reason),
          datasets: [{ label: "candidates", data: rows.map((r) => r.count), backgroundColor: REJECTED }],
        },
        options: options,
      };
    },
    "input-share": function (stats) {
      const share = stats.input_share;
      return {
        type: "doughnut",
        data: {
          labels: ["with input", "without input"],
          datasets: [{ data: [share.with_input, share.without_input], backgroundColor: [KEPT, "#cfd8d2"] }],
        },
        options: {
          responsive: true,
          plugins: {
            legend: { position: "right" },
            tooltip: { callbacks: { label: (ctx) => ctx.label + ": " + P.number(ctx.raw) + " (" + percentOf(ctx) + ")" } },
          },
        },
      };
    },
  };

  function percentOf(ctx) {
    const total = ctx.dataset.data.reduce((a, b) => a + b, 0);
    return total ? Math.round((100 * ctx.raw) / total) + "%" : "—";
  }

  ["instruction", "input", "output"].forEach(function (field) {
    builders["length-" + field] = function (stats) {
      const h = stats.lengths[field];
      return {
        type: "bar",
        data: {
          labels: histogramLabels(h),
          datasets: [{ label: field + " length", data: h.counts, backgroundColor: field === "output" ? COST : KEPT }],
        },
        options: barOptions("characters" + (h.median !== null ? " (median " + Math.round(h.median) + ")" : ""), "records"),
      };
    };
  });

  function verbConfig(verbs) {
    const inner = [], innerLabels = [], innerColors = [];
    const outer = [], outerLabels = [], outerColors = [];
    verbs.verbs.forEach(function (v, i) {
      const color = COLORS[i % COLORS.length];
      inner.push(v.count);
      innerLabels.push(v.verb);
      innerColors.push(color);
      v.objects.forEach(function (o, j) {
        outer.push(o.count);
        outerLabels.push(v.verb + " → " + o.object);
        outerColors.push(tint(color, 0.25 + 0.12 * j));
      });
      if (v.other > 0) {
        outer.push(v.other);
        outerLabels.push(v.verb + " → other");
        outerColors.push(tint(color, 0.85));
      }
    });
    return {
      type: "doughnut",
      data: {
        labels: innerLabels,
        datasets: [
          { label: "objects", data: outer, labels: outerLabels, backgroundColor: outerColors, borderWidth: 1 },
          { label: "verbs", data: inner, labels: innerLabels, backgroundColor: innerColors, borderWidth: 1 },
        ],
      },
      options: {
        responsive: true,
        cutout: "22%",
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (ctx) => ctx.dataset.labels[ctx.dataIndex] + ": " + P.number(ctx.raw),
              title: () => "",
            },
          },
        },
      },
    };
  }

  function fillVerbTable(root, verbs) {
    const body = root.querySelector("[data-verbs-rows]");
    const summary = root.querySelector("[data-verbs-summary]");
    if (summary) {
      let text = P.number(verbs.with_verb) + " of " + P.number(verbs.analysed) + " English instructions open with a verb.";
      if (verbs.skipped_other_languages) text += " " + P.number(verbs.skipped_other_languages) + " in other languages are not analysed.";
      summary.textContent = text;
    }
    if (!body) return;
    body.replaceChildren();
    verbs.verbs.forEach(function (v) {
      const row = document.createElement("tr");
      row.appendChild(P.el("td", v.verb));
      row.appendChild(P.el("td", P.number(v.count), "num"));
      row.appendChild(P.el("td", v.objects.map((o) => o.object + " (" + o.count + ")").join(", ") || "—"));
      body.appendChild(row);
    });
  }

  function jobsConfig(rows) {
    const labels = rows.map((r) => (r.name || "Job " + r.id) + " #" + r.id);
    return {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          { label: "kept", data: rows.map((r) => r.kept), backgroundColor: KEPT, yAxisID: "y" },
          { label: "approved", data: rows.map((r) => r.approved), backgroundColor: "#8fd1a8", yAxisID: "y" },
          { label: "rejected by the generator", data: rows.map((r) => r.rejected), backgroundColor: REJECTED, yAxisID: "y" },
          { label: "cost (USD)", data: rows.map((r) => r.cost_usd), type: "line", borderColor: COST, backgroundColor: COST,
            yAxisID: "y1", pointRadius: 3 },
        ],
      },
      options: {
        responsive: true,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom" } },
        scales: {
          x: { grid: { display: false } },
          y: { beginAtZero: true, title: { display: true, text: "records" }, ticks: { precision: 0 } },
          y1: { beginAtZero: true, position: "right", title: { display: true, text: "USD" }, grid: { drawOnChartArea: false } },
        },
      },
    };
  }

  const charts = new Map();

  function isEmpty(config) {
    return !config.data.datasets.some((d) => d.data.some((v) => v));
  }

  function draw(canvas, config) {
    const box = canvas.parentElement;
    let note = box.querySelector(".chart-empty");
    if (isEmpty(config)) {
      if (!note) {
        note = P.el("p", canvas.getAttribute("data-empty") || "Nothing to show yet.", "chart-empty muted");
        box.appendChild(note);
      }
      canvas.hidden = true;
      canvas.setAttribute("data-empty-shown", "true");
      return;
    }
    if (note) note.remove();
    canvas.hidden = false;
    canvas.removeAttribute("data-empty-shown");
    const existing = charts.get(canvas);
    if (existing) {
      existing.data = config.data;
      existing.options = config.options;
      existing.update("none");
      return;
    }
    charts.set(canvas, new Chart(canvas, config));
  }

  async function load(root) {
    const jobId = root.getAttribute("data-job-id");
    const query = jobId ? "?job_id=" + encodeURIComponent(jobId) : "";
    const status = root.querySelector("[data-charts-status]");
    try {
      const stats = await P.api("GET", "/api/v1/stats" + query);
      if (!stats.totals.records) {
        status.textContent = "No records yet: the charts fill in as the job keeps candidates.";
        root.querySelector(".chart-grid").hidden = true;
        return;
      }
      root.querySelector(".chart-grid").hidden = false;
      root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
        const build = builders[canvas.getAttribute("data-chart")];
        if (build) draw(canvas, build(stats));
      });
      const verbs = await P.api("GET", "/api/v1/stats/verbs" + query);
      const verbCanvas = root.querySelector('canvas[data-chart="verbs"]');
      if (verbCanvas) draw(verbCanvas, verbConfig(verbs));
      fillVerbTable(root, verbs);
      document.querySelectorAll("[data-review-count]").forEach(function (node) {
        const key = node.getAttribute("data-review-count");
        if (key in stats.totals) node.textContent = P.number(stats.totals[key]);
      });
      status.textContent = P.number(stats.totals.records) + " candidates: " + P.number(stats.totals.kept) + " kept, " +
        P.number(stats.totals.rejected) + " rejected; " + P.number(stats.totals.approved) + " approved in review.";
      root.setAttribute("data-charts-ready", "true");
    } catch (err) {
      status.textContent = "The charts could not be loaded: " + err.message;
    }
  }

  async function loadJobs(canvas) {
    try {
      const rows = await P.api("GET", "/api/v1/stats/jobs");
      draw(canvas, jobsConfig(rows));
      canvas.setAttribute("data-chart-ready", "true");
    } catch (err) {
      canvas.parentElement.textContent = "The job comparison could not be loaded: " + err.message;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.Chart) return;
    setup();
    document.querySelectorAll("[data-charts]").forEach(function (root) {
      load(root);
      let last = Date.now();
      let wasRunning = false;
      document.addEventListener("pasture:job", function (event) {
        const running = ["queued", "running"].indexOf(event.detail.status) >= 0;
        // Redraw every few seconds while the job runs, and once more when it stops.
        if ((running && Date.now() - last > 8000) || (wasRunning && !running)) {
          last = Date.now();
          load(root);
        }
        wasRunning = running;
      });
    });
    document.querySelectorAll("canvas[data-jobs-chart]").forEach(loadJobs);
  });
})();
