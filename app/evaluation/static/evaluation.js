/* Pasture evaluation charts: read the report the page carries (escaped JSON in a data attribute) and draw it
 * with the vendored Chart.js. Chart.js draws on a canvas, so category names are never parsed as HTML. */
(function () {
  "use strict";

  const WIN = "#2f6b4f";
  const TIE = "#b9b3a3";
  const LOSS = "#c8553d";
  const ACCENT = "#3b78b5";

  function percent(value) {
    return value === null || value === undefined ? null : Math.round(value * 1000) / 10;
  }

  function groups(report) {
    return [report.overall].concat(report.categories);
  }

  function label(group) {
    return group.category === null ? "All" : group.category;
  }

  function percentAxis(max) {
    return { beginAtZero: true, max: max, ticks: { callback: (v) => v + "%" } };
  }

  const builders = {
    outcomes: function (report) {
      const rows = groups(report);
      const series = (key) => rows.map((g) => percent(g.pairwise[key]));
      return {
        type: "bar",
        data: {
          labels: rows.map(label),
          datasets: [
            { label: "Win", data: series("win_rate"), backgroundColor: WIN },
            { label: "Tie", data: series("tie_rate"), backgroundColor: TIE },
            { label: "Loss", data: series("loss_rate"), backgroundColor: LOSS },
          ],
        },
        options: {
          indexAxis: "y",
          responsive: true,
          scales: { x: Object.assign({ stacked: true }, percentAxis(100)), y: { stacked: true } },
          plugins: {
            tooltip: {
              callbacks: {
                afterLabel: function (item) {
                  const pairwise = rows[item.dataIndex].pairwise;
                  const key = ["win_rate_ci", "tie_rate_ci", "loss_rate_ci"][item.datasetIndex];
                  const ci = pairwise[key];
                  const note = pairwise.judged + " questions judged in both orders";
                  return ci ? "95% CI " + percent(ci.low) + "–" + percent(ci.high) + "% · " + note : note;
                },
              },
            },
          },
        },
      };
    },

    relative: function (report) {
      const rows = groups(report);
      return {
        type: "bar",
        data: {
          labels: rows.map(label),
          datasets: [
            {
              label: "Relative score",
              data: rows.map((g) => percent(g.scores.relative_score)),
              backgroundColor: rows.map((g) => (g.category === null ? ACCENT : "#8fb3d9")),
            },
          ],
        },
        options: {
          responsive: true,
          plugins: { legend: { display: false } },
          scales: { y: { beginAtZero: true, ticks: { callback: (v) => v + "%" } } },
        },
      };
    },

    flips: function (report) {
      const rows = groups(report);
      return {
        type: "bar",
        data: {
          labels: rows.map(label),
          datasets: [
            {
              label: "Flipped",
              data: rows.map((g) => percent(g.pairwise.flip_rate)),
              backgroundColor: rows.map((g) => (g.category === null ? "#d9a21b" : "#ecd08f")),
            },
          ],
        },
        options: { responsive: true, plugins: { legend: { display: false } }, scales: { y: percentAxis(100) } },
      };
    },

    position: function (report) {
      const p = report.overall.pairwise;
      return {
        type: "doughnut",
        data: {
          labels: ["Shown first", "Shown second", "Neither (tie)"],
          datasets: [
            {
              data: [p.first_shown_preferred, p.second_shown_preferred, p.tied_verdicts],
              backgroundColor: ["#d9a21b", ACCENT, TIE],
            },
          ],
        },
        options: { responsive: true },
      };
    },
  };

  function draw() {
    const section = document.querySelector("[data-evaluation-report]");
    if (!section) return;
    const status = section.querySelector("[data-charts-status]");
    if (typeof Chart === "undefined") {
      if (status) status.textContent = "The chart library did not load; the numbers are in the table below.";
      return;
    }
    let report;
    try {
      report = JSON.parse(section.getAttribute("data-evaluation-report"));
    } catch (err) {
      if (status) status.textContent = "The report could not be read.";
      return;
    }
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    section.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      const build = builders[canvas.getAttribute("data-chart")];
      if (build) new Chart(canvas, build(report));
    });
    if (status) {
      status.textContent = report.overall.pairwise.judged
        ? ""
        : "No question has verdicts in both orders yet; the charts fill in as the judge answers.";
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
