/* Pasture review queue: pending kept records one at a time, with keyboard shortcuts.
 * Uses the REST API (same actions as the record page); all text goes in with textContent. */
(function () {
  "use strict";

  const P = window.Pasture;
  const BATCH = 50;

  function Queue(root) {
    this.root = root;
    this.jobId = root.getAttribute("data-job-id");
    this.items = [];
    this.index = 0;
    this.cursor = null;
    this.exhausted = false;
    this.done = 0;
    this.busy = false;
    this.editing = false;
    this.q = (selector) => root.querySelector(selector);
  }

  Queue.prototype.fetchMore = async function () {
    if (this.exhausted) return false;
    const params = new URLSearchParams({ status: "kept", review_status: "pending", order: "asc", limit: String(BATCH) });
    if (this.jobId) params.set("job_id", this.jobId);
    if (this.cursor) params.set("cursor", this.cursor);
    const page = await P.api("GET", "/api/v1/records?" + params);
    this.cursor = page.next_cursor;
    this.exhausted = !page.next_cursor;
    const known = new Set(this.items.map((item) => item.id));
    page.items.forEach((item) => { if (!known.has(item.id)) this.items.push(item); });
    const pending = document.querySelector("[data-queue-pending]");
    if (pending && !this.done) pending.textContent = P.number(page.total);
    return page.items.length > 0;
  };

  Queue.prototype.message = function (text, kind) {
    const node = this.q("[data-queue-message]");
    node.textContent = text;
    node.className = "notice" + (kind ? " " + kind : "");
    node.hidden = !text;
  };

  Queue.prototype.current = function () {
    return this.items[this.index] || null;
  };

  Queue.prototype.render = function () {
    const item = this.current();
    const record = this.q("[data-queue-record]");
    const empty = this.q("[data-queue-empty]");
    const title = this.q("[data-queue-title]");
    if (!item) {
      record.hidden = true;
      empty.hidden = false;
      title.textContent = this.items.length ? "End of the queue" : "Nothing pending";
      this.q("[data-queue-position]").textContent = "";
      return;
    }
    record.hidden = false;
    empty.hidden = true;
    title.textContent = "Record " + item.id;
    this.q("[data-queue-position]").textContent = (this.index + 1) + " of " + this.items.length + (this.exhausted ? "" : "+");
    const status = this.q("[data-queue-status]");
    status.textContent = item.review_status;
    status.className = "badge review-" + item.review_status;
    const score = item.max_similarity === null ? "—" : item.max_similarity.toFixed(3);
    this.q("[data-queue-facts]").textContent = "job #" + item.job_id + " · " + item.language + " · ROUGE-L " + score;
    ["instruction", "input", "output"].forEach((field) => {
      const node = this.q('[data-show="' + field + '"]');
      node.textContent = item[field] || (field === "input" ? "(no input)" : "(empty)");
      node.classList.toggle("muted", !item[field]);
    });
    this.q("[data-open-record]").href = "/records/" + item.id;
    const list = this.q("[data-queue-neighbours]");
    list.replaceChildren();
    (item.nearest || []).slice(0, 5).forEach(function (n) {
      const li = document.createElement("li");
      li.appendChild(P.el("span", Number(n.score).toFixed(3), "score"));
      if (n.kind === "record") {
        const link = P.el("a", n.instruction);
        link.href = "/records/" + n.id;
        li.appendChild(link);
      } else {
        li.appendChild(P.el("span", n.instruction));
        li.appendChild(document.createTextNode(" "));
        li.appendChild(P.el("span", "seed", "badge seed"));
      }
      list.appendChild(li);
    });
    document.querySelector("[data-queue-done]").textContent = String(this.done);
  };

  Queue.prototype.move = async function (step) {
    if (this.editing) return;
    const target = this.index + step;
    if (target < 0) return;
    if (target >= this.items.length) {
      try {
        if (!(await this.fetchMore())) {
          this.index = this.items.length;
          this.render();
          return;
        }
      } catch (err) {
        this.message("Could not load more records: " + err.message, "error");
        return;
      }
    }
    this.index = Math.min(target, this.items.length);
    this.render();
  };

  Queue.prototype.review = async function (action) {
    const item = this.current();
    if (!item || this.busy || this.editing) return;
    this.busy = true;
    try {
      const updated = await P.api("POST", "/api/v1/records/" + item.id + "/review", { action: action });
      if (item.review_status === "pending" && updated.review_status !== "pending") this.done += 1;
      Object.assign(item, updated);
      this.message((action === "approve" ? "Approved" : "Rejected") + " record " + item.id + ".", "success");
      await this.move(1);
    } catch (err) {
      this.message(err.status === 401 ? "Your session has expired: reload the page and log in again." : err.message, "error");
    } finally {
      this.busy = false;
    }
  };

  Queue.prototype.startEdit = function () {
    const item = this.current();
    if (!item || this.editing) return;
    this.editing = true;
    const form = this.q("[data-edit]");
    ["instruction", "input", "output"].forEach((field) => (form.elements[field].value = item[field]));
    this.q("[data-view]").hidden = true;
    form.hidden = false;
    form.elements.instruction.focus();
  };

  Queue.prototype.stopEdit = function () {
    this.editing = false;
    this.q("[data-edit]").hidden = true;
    this.q("[data-view]").hidden = false;
    this.render();
  };

  Queue.prototype.saveEdit = async function () {
    const item = this.current();
    const form = this.q("[data-edit]");
    if (!item || this.busy) return;
    const body = {};
    ["instruction", "input", "output"].forEach((field) => (body[field] = form.elements[field].value));
    this.busy = true;
    try {
      const updated = await P.api("PATCH", "/api/v1/records/" + item.id, body);
      Object.assign(item, updated);
      this.message("Saved record " + item.id + ". Approve or reject it next.", "success");
      this.stopEdit();
    } catch (err) {
      this.message(err.message, "error");
    } finally {
      this.busy = false;
    }
  };

  Queue.prototype.bind = function () {
    this.root.querySelectorAll("[data-act]").forEach((button) => {
      button.addEventListener("click", () => this.act(button.getAttribute("data-act")));
    });
    const form = this.q("[data-edit]");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveEdit();
    });
    this.q("[data-cancel-edit]").addEventListener("click", () => this.stopEdit());
    document.addEventListener("keydown", (event) => this.key(event));
  };

  Queue.prototype.act = function (action) {
    if (action === "approve" || action === "reject") this.review(action);
    else if (action === "edit") this.startEdit();
    else if (action === "next") this.move(1);
    else if (action === "previous") this.move(-1);
  };

  Queue.prototype.key = function (event) {
    if (this.editing) {
      if (event.key === "Escape") {
        event.preventDefault();
        this.stopEdit();
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.saveEdit();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.target.isContentEditable) return;
    const keys = { a: "approve", r: "reject", e: "edit", j: "next", ArrowRight: "next", k: "previous", ArrowLeft: "previous" };
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (key === "o" && this.current()) {
      window.location.href = "/records/" + this.current().id;
      return;
    }
    if (keys[key]) {
      event.preventDefault();
      this.act(keys[key]);
    }
  };

  document.addEventListener("DOMContentLoaded", async function () {
    const root = document.querySelector("[data-review-queue]");
    if (!root) return;
    const queue = new Queue(root);
    window.PastureQueue = queue;
    queue.bind();
    try {
      await queue.fetchMore();
    } catch (err) {
      queue.message("Could not load the queue: " + err.message, "error");
    }
    queue.render();
    root.setAttribute("data-ready", "true");
  });
})();
