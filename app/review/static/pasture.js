/* Pasture dashboard: shared helpers, live job progress, small form conveniences.
 * Text from the server is only ever put into the page with textContent, never as HTML. */
(function () {
  "use strict";

  const Pasture = (window.Pasture = window.Pasture || {});

  Pasture.csrfToken = function () {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  };

  Pasture.api = async function (method, url, body) {
    const headers = { Accept: "application/json", "X-CSRF-Token": Pasture.csrfToken() };
    const options = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      const error = new Error((data && data.error) || response.status + " " + response.statusText);
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  };

  Pasture.number = function (value) {
    if (value === null || value === undefined) return "—";
    return Number(value).toLocaleString("en-US", { maximumFractionDigits: 2 });
  };

  Pasture.usd = function (value) {
    if (value === null || value === undefined) return "—";
    if (value === 0) return "$0";
    const digits = Math.abs(value) < 1 ? 4 : 2;
    return "$" + Number(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  };

  Pasture.duration = function (seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
    let s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + "s";
    let m = Math.floor(s / 60);
    s = s % 60;
    if (m < 60) return m + "m " + String(s).padStart(2, "0") + "s";
    let h = Math.floor(m / 60);
    m = m % 60;
    if (h < 48) return h + "h " + String(m).padStart(2, "0") + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  };

  Pasture.el = function (tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  };

  const TERMINAL = ["succeeded", "cancelled"];
  const ACTIVE = ["queued", "running"];

  function jobValues(job) {
    const rejected = Object.values(job.rejections || {}).reduce((a, b) => a + b, 0);
    return {
      status: job.status,
      status_reason: job.status_reason || "",
      kept: Pasture.number(job.kept),
      target: Pasture.number(job.target),
      candidates: Pasture.number(job.candidates),
      rejected: Pasture.number(rejected),
      cost_usd: Pasture.usd(job.cost_usd),
      budget_usd: job.budget_usd === null ? "none" : Pasture.usd(job.budget_usd),
      records_per_minute: job.records_per_minute ? job.records_per_minute.toFixed(1) + "/min" : "—",
      eta_seconds: Pasture.duration(job.eta_seconds),
      requests_sent: Pasture.number(job.requests_sent),
      requests_failed: Pasture.number(job.requests_failed),
      requests_retried: Pasture.number(job.requests_retried),
      prompt_tokens: Pasture.number(job.prompt_tokens),
      completion_tokens: Pasture.number(job.completion_tokens),
      total_tokens: Pasture.number(job.prompt_tokens + job.completion_tokens),
    };
  }

  function applyJob(root, job) {
    const values = jobValues(job);
    root.setAttribute("data-job-status", job.status);
    root.querySelectorAll("[data-job-field]").forEach(function (node) {
      const field = node.getAttribute("data-job-field");
      if (field === "progress") {
        node.setAttribute("max", String(job.target));
        node.setAttribute("value", String(Math.min(job.kept, job.target)));
      } else if (field === "status") {
        node.textContent = job.status;
        node.className = "badge status-" + job.status;
      } else if (field in values) {
        node.textContent = values[field];
      }
    });
    root.querySelectorAll("[data-show-when]").forEach(function (node) {
      node.hidden = node.getAttribute("data-show-when").split(" ").indexOf(job.status) < 0;
    });
    const table = root.querySelector("[data-rejections]");
    if (table) {
      const entries = Object.entries(job.rejections || {}).sort((a, b) => b[1] - a[1]);
      const body = table.querySelector("tbody");
      body.replaceChildren();
      entries.forEach(function (entry) {
        const row = document.createElement("tr");
        const reasonCell = document.createElement("td");
        const link = Pasture.el("a", entry[0]);
        link.href = "/records?" + new URLSearchParams({ job_id: job.id, status: "rejected", reason: entry[0] });
        reasonCell.appendChild(link);
        row.appendChild(reasonCell);
        row.appendChild(Pasture.el("td", Pasture.number(entry[1]), "num"));
        body.appendChild(row);
      });
      table.hidden = entries.length === 0;
      const empty = root.querySelector("[data-rejections-empty]");
      if (empty) empty.hidden = entries.length > 0;
    }
    document.dispatchEvent(new CustomEvent("pasture:job", { detail: job }));
  }

  function liveJob(root) {
    const id = root.getAttribute("data-live-job");
    async function tick() {
      let status = root.getAttribute("data-job-status");
      try {
        const job = await Pasture.api("GET", "/api/v1/jobs/" + id);
        applyJob(root, job);
        status = job.status;
      } catch (err) {
        /* keep the last values; try again later */
      }
      if (TERMINAL.indexOf(status) < 0) {
        setTimeout(tick, ACTIVE.indexOf(status) >= 0 ? 2000 : 5000);
      }
    }
    setTimeout(tick, 1000);
  }

  function liveJobs(table) {
    async function tick() {
      const rows = Array.from(table.querySelectorAll("tr[data-job-id]"));
      const open = rows.filter((row) => TERMINAL.indexOf(row.getAttribute("data-job-status")) < 0);
      if (!open.length) return;
      try {
        const page = await Pasture.api("GET", "/api/v1/jobs?limit=200");
        const byId = {};
        page.items.forEach((job) => (byId[job.id] = job));
        open.forEach(function (row) {
          const job = byId[row.getAttribute("data-job-id")];
          if (job) applyJob(row, job);
        });
      } catch (err) {
        /* try again later */
      }
      setTimeout(tick, 2500);
    }
    setTimeout(tick, 1500);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-job]").forEach(liveJob);
    document.querySelectorAll("[data-live-jobs]").forEach(liveJobs);
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () {
        select.form.submit();
      });
    });
  });
})();
