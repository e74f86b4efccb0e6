/* Pasture training run: draw the loss and learning-rate curves the page carries (escaped JSON in a data
 * attribute) with the vendored Chart.js, and while the run is queued or running poll its API and redraw.
 * Text from the server only ever reaches the page through textContent. */
(function () {
  "use strict";

  const ACTIVE = ["queued", "running"];
  const POLL_MS = 3000;
  const LOSS = "#2f6b4f";
  const EVAL = "#c8553d";
  const RATE = "#3b78b5";

  function numeric(value) {
    return typeof value === "number" && isFinite(value);
  }

  function series(curve, key) {
    return curve.filter((p) => numeric(p.step) && numeric(p[key])).map((p) => ({ x: p.step, y: p[key] }));
  }

  function loss(value) {
    return numeric(value) ? value.toFixed(4) : "—";
  }

  function number(value) {
    return numeric(value) ? Pasture.number(value) : "—";
  }

  function latest(run, key) {
    const final = run.metrics[key === "loss" ? "train_loss" : key];
    if (numeric(final)) return final;
    const points = series(run.curve, key);
    return points.length ? points[points.length - 1].y : run.progress[key];
  }

  function stepAxis() {
    return { type: "linear", title: { display: true, text: "Step" }, ticks: { precision: 0 } };
  }

  function lossChart(canvas, run) {
    return new Chart(canvas, {
      type: "line",
      data: {
        datasets: [
          { label: "Training loss", data: series(run.curve, "loss"), borderColor: LOSS, backgroundColor: LOSS,
            borderWidth: 2, pointRadius: 0, pointHitRadius: 6, tension: 0 },
          { label: "Validation loss", data: series(run.curve, "eval_loss"), borderColor: EVAL, backgroundColor: EVAL,
            showLine: false, pointRadius: 4 },
        ],
      },
      options: {
        responsive: true,
        interaction: { mode: "nearest", intersect: false },
        scales: { x: stepAxis(), y: { title: { display: true, text: "Loss" } } },
      },
    });
  }

  function rateChart(canvas, run) {
    return new Chart(canvas, {
      type: "line",
      data: {
        datasets: [
          { label: "Learning rate", data: series(run.curve, "learning_rate"), borderColor: RATE, backgroundColor: RATE,
            borderWidth: 2, pointRadius: 0, pointHitRadius: 6, tension: 0 },
        ],
      },
      options: {
        responsive: true,
        plugins: { legend: { display: false } },
        scales: {
          x: stepAxis(),
          y: { beginAtZero: true, ticks: { callback: (v) => (v === 0 ? "0" : Number(v).toExponential(1)) } },
        },
      },
    });
  }

  function fieldValues(run) {
    const p = run.progress || {};
    return {
      step: number(p.step),
      total_steps: number(p.total_steps),
      epoch: number(p.epoch),
      loss: loss(latest(run, "loss")),
      eval_loss: loss(latest(run, "eval_loss")),
      tokens_per_second: number(p.tokens_per_second),
      eta_seconds: Pasture.duration(p.eta_seconds),
      gpu_memory_mb: number(p.gpu_memory_mb),
      attempt: number(run.attempt),
      worker_id: run.worker_id || "—",
      status_reason: run.status_reason ? " · " + run.status_reason : "",
    };
  }

  function apply(root, run, charts, status) {
    const values = fieldValues(run);
    root.querySelectorAll("[data-run-field]").forEach(function (node) {
      const field = node.getAttribute("data-run-field");
      if (field === "status") {
        node.textContent = run.status;
        node.className = "badge status-" + run.status;
      } else if (field in values) {
        node.textContent = values[field];
      }
    });
    if (charts.loss) {
      charts.loss.data.datasets[0].data = series(run.curve, "loss");
      charts.loss.data.datasets[1].data = series(run.curve, "eval_loss");
      charts.loss.update();
    }
    if (charts.rate) {
      charts.rate.data.datasets[0].data = series(run.curve, "learning_rate");
      charts.rate.update();
    }
    if (status) {
      const points = series(run.curve, "loss").length + series(run.curve, "eval_loss").length;
      status.textContent = points ? "" : "No loss reported yet; the curves fill in as the worker reports.";
    }
  }

  function start() {
    const root = document.querySelector("[data-training-run]");
    if (!root) return;
    const status = root.querySelector("[data-charts-status]");
    let run;
    try {
      run = JSON.parse(root.getAttribute("data-training-run"));
    } catch (err) {
      if (status) status.textContent = "The run could not be read.";
      return;
    }
    const charts = {};
    if (typeof Chart === "undefined") {
      if (status) status.textContent = "The chart library did not load; the latest values are above.";
    } else {
      Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      Chart.defaults.animation = false;
      Chart.defaults.maintainAspectRatio = false;
      const lossCanvas = root.querySelector('canvas[data-chart="loss"]');
      const rateCanvas = root.querySelector('canvas[data-chart="learning-rate"]');
      if (lossCanvas) charts.loss = lossChart(lossCanvas, run);
      if (rateCanvas) charts.rate = rateChart(rateCanvas, run);
    }
    apply(root, run, charts, typeof Chart === "undefined" ? null : status);

    async function tick() {
      try {
        const fresh = await Pasture.api("GET", "/api/v1/training-runs/" + run.id);
        if (ACTIVE.indexOf(fresh.status) < 0) {
          /* The run ended: the page renders its final metrics and artifacts. */
          window.location.reload();
          return;
        }
        run = fresh;
        apply(root, run, charts, typeof Chart === "undefined" ? null : status);
      } catch (err) {
        /* keep the last values; try again later */
      }
      setTimeout(tick, POLL_MS);
    }
    if (ACTIVE.indexOf(run.status) >= 0) setTimeout(tick, POLL_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
