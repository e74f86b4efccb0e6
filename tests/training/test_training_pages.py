"""The dashboard's training pages: runs and exports listed, a run's curve drawn, escaped text, and cancel."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, make_settings
from tests.review.conftest import browser  # noqa: F401  (the shared headless Chromium)
from tests.training.test_training_runs import claim, create_run, make_export

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "training"
HOSTILE_MODEL = "<script>alert(1)</script>"
HOSTILE_SCHEDULER = "<img src=x onerror=alert(2)>"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOSSES = [2.31, 1.87, 1.52, 1.33, 1.21, 1.14]


@pytest.fixture
def sqlite_server(sqlite_url: str) -> Iterator[LiveServer]:
    with LiveServer(make_settings(sqlite_url)) as server:
        yield server


def beat(server: LiveServer, run_id: int, step: int, **progress: Any) -> None:
    payload = {
        "step": step,
        "total_steps": 12,
        "epoch": step / 4,
        "learning_rate": 3e-4 * min(1.0, step / 2),
        "tokens_per_second": 1830.5,
        "eta_seconds": (12 - step) * 7.0,
        "gpu_memory_mb": 14210.0,
    } | progress
    response = server.client.post(
        f"/api/v1/training-runs/{run_id}/heartbeat", json={"worker_id": "gpu-1", "progress": payload}
    )
    assert response.status_code == 200, response.text


def running_run(server: LiveServer, sqlite_url: str) -> tuple[int, int]:
    """An export and a claimed run with a few heartbeats: losses each step, a validation loss every third."""
    export_id = make_export(server, sqlite_url)
    run_id = create_run(
        server,
        export_id,
        base_model=HOSTILE_MODEL,
        hyperparameters={"epochs": 1, "lr_scheduler": HOSTILE_SCHEDULER},
    )["id"]
    assert claim(server, "gpu-1") is not None
    for step, loss in enumerate(LOSSES, start=1):
        beat(server, run_id, step, loss=loss, eval_loss=loss + 0.1 if step % 3 == 0 else None)
    return export_id, run_id


def page_token(page: str) -> str:
    match = CSRF.search(page)
    assert match is not None
    return html.unescape(match.group(1))


class TestListPage:
    def test_lists_runs_and_exports_with_their_downloads(
        self, sqlite_server: LiveServer, sqlite_url: str
    ) -> None:
        export_id, run_id = running_run(sqlite_server, sqlite_url)
        response = sqlite_server.client.get("/training")
        assert response.status_code == 200
        page = response.text
        assert '<a href="/training" aria-current="page">Training</a>' in page
        assert f'href="/training/{run_id}"' in page and f'href="#export-{export_id}"' in page
        assert "6 / 12" in page and "1.1400" in page and "1.2400" in page  # step, loss, eval loss
        assert '<span class="badge status-running" data-run-field="status">running</span>' in page
        for download in (f"{export_id}.jsonl", f"{export_id}/validation.jsonl", f"{export_id}/card.md"):
            assert f'href="/api/v1/exports/{download}"' in page
        sha256 = sqlite_server.client.get(f"/api/v1/exports/{export_id}").json()["sha256"]
        assert f'<code title="{sha256}">{sha256[:12]}</code>' in page
        assert HOSTILE_MODEL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    def test_empty_page_says_how_to_export_and_train(self, sqlite_server: LiveServer) -> None:
        page = sqlite_server.client.get("/training").text
        assert "No exports or training runs yet" in page
        assert "api/v1/exports" in page and "api/v1/training-runs" in page and "pasture-worker run" in page


class TestRunPage:
    def test_shows_progress_hyperparameters_and_the_curve_escaped(
        self, sqlite_server: LiveServer, sqlite_url: str
    ) -> None:
        _, run_id = running_run(sqlite_server, sqlite_url)
        beat(sqlite_server, run_id, 7, loss=1.09)  # no validation at this step
        response = sqlite_server.client.get(f"/training/{run_id}")
        assert response.status_code == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page = response.text
        assert [re.sub(r"\?v=[^\"]*", "", tag) for tag in re.findall(r"<script\b[^>]*>", page)] == [
            '<script src="/static/pasture.js" defer>',
            '<script src="/static/vendor/chartjs/chart.umd.min.js" defer>',
            '<script src="/training/assets/training.js" defer>',
        ]
        assert HOSTILE_MODEL not in page and HOSTILE_SCHEDULER not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=alert(2)&gt;" in page
        assert '<span data-run-field="step">7</span> / <span data-run-field="total_steps">12</span>' in page
        assert '<span class="kpi-value" data-run-field="loss">1.0900</span>' in page
        assert '<span class="kpi-value" data-run-field="eval_loss">1.2400</span>' in page
        assert '<span class="kpi-value" data-run-field="eta_seconds">35s</span>' in page
        assert '<span class="kpi-value" data-run-field="gpu_memory_mb">14,210</span>' in page
        assert '<td class="text-cell">3.0e-04</td>' in page  # Alpaca's LoRA rate, untouched
        assert 'action="/training/' in page and ">Cancel</button>" in page
        embedded = re.search(r'data-training-run="([^"]*)"', page)
        assert embedded is not None
        run = json.loads(html.unescape(embedded.group(1)))
        assert run == sqlite_server.client.get(f"/api/v1/training-runs/{run_id}").json()
        assert [p["loss"] for p in run["curve"]] == [*LOSSES, 1.09]

        script = sqlite_server.client.get("/training/assets/training.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")

    def test_finished_run_shows_metrics_and_artifacts_without_cancel(
        self, sqlite_server: LiveServer, sqlite_url: str
    ) -> None:
        _, run_id = running_run(sqlite_server, sqlite_url)
        done = sqlite_server.client.post(
            f"/api/v1/training-runs/{run_id}/complete",
            json={
                "worker_id": "gpu-1",
                "status": "succeeded",
                "metrics": {"train_loss": 1.1, "eval_loss": 1.25, "steps": 12},
                "artifacts": {"adapter": "runs/1/adapter"},
            },
        )
        assert done.status_code == 200, done.text
        page = sqlite_server.client.get(f"/training/{run_id}").text
        assert "<dt>eval_loss</dt><dd>1.2500</dd>" in page and "<dt>steps</dt><dd>12</dd>" in page
        assert "<code>runs/1/adapter</code>" in page
        assert ">Cancel</button>" not in page

    def test_unknown_run_is_a_404_page(self, sqlite_server: LiveServer) -> None:
        missing = sqlite_server.client.get("/training/42")
        assert missing.status_code == 404 and "training run 42 does not exist" in missing.text


class TestCancel:
    def test_needs_the_form_token(self, sqlite_server: LiveServer, sqlite_url: str) -> None:
        _, run_id = running_run(sqlite_server, sqlite_url)
        page = sqlite_server.client.get(f"/training/{run_id}").text
        refused = sqlite_server.client.post(f"/training/{run_id}/cancel", data={"csrf_token": "forged"})
        assert refused.status_code == 403
        assert sqlite_server.client.get(f"/api/v1/training-runs/{run_id}").json()["status"] == "running"

        done = sqlite_server.client.post(f"/training/{run_id}/cancel", data={"csrf_token": page_token(page)})
        assert done.status_code == 303 and done.headers["location"] == f"/training/{run_id}?done=cancel"
        assert sqlite_server.client.get(f"/api/v1/training-runs/{run_id}").json()["status"] == "cancelled"
        after = sqlite_server.client.get(done.headers["location"]).text
        assert "Cancelled." in after and ">Cancel</button>" not in after

    def test_a_finished_run_says_why_it_cannot_be_cancelled(
        self, sqlite_server: LiveServer, sqlite_url: str
    ) -> None:
        _, run_id = running_run(sqlite_server, sqlite_url)
        token = page_token(sqlite_server.client.get(f"/training/{run_id}").text)
        sqlite_server.client.post(f"/training/{run_id}/cancel", data={"csrf_token": token})
        again = sqlite_server.client.post(f"/training/{run_id}/cancel", data={"csrf_token": token})
        assert again.status_code == 409 and "only a queued or running run can be cancelled" in again.text
        missing = sqlite_server.client.post("/training/42/cancel", data={"csrf_token": token})
        assert missing.status_code == 404


@pytest.mark.browser
def test_the_loss_curve_draws_and_follows_the_run(
    sqlite_server: LiveServer,
    sqlite_url: str,
    browser: Any,  # noqa: F811
) -> None:
    _, run_id = running_run(sqlite_server, sqlite_url)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{sqlite_server.url}/training/{run_id}")
    page.wait_for_function("() => document.querySelector('[data-charts-status]').textContent === ''")
    counts = """() => Object.fromEntries(Array.from(document.querySelectorAll('canvas[data-chart]')).map(c => {
                 const chart = Chart.getChart(c);
                 return [c.dataset.chart, chart ? chart.data.datasets.map(d => d.data.length) : null];
               }))"""
    assert page.evaluate(counts) == {"loss": [6, 2], "learning-rate": [6]}
    box = page.locator('canvas[data-chart="loss"]').bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 300

    # A new heartbeat reaches the open page through the poll.
    beat(sqlite_server, run_id, 7, loss=1.09)
    page.wait_for_function(
        "() => Chart.getChart(document.querySelector('canvas[data-chart=\"loss\"]')).data.datasets[0].data.length"
        " === 7",
        timeout=15_000,
    )
    assert page.locator('[data-run-field="step"]').text_content() == "7"
    assert page.locator('[data-run-field="loss"]').text_content() == "1.0900"
    assert page.locator('[data-run-field="eval_loss"]').text_content() == "1.2400"  # the last one measured
    assert page.evaluate("() => document.querySelectorAll('script:not([src])').length") == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "run.png"), full_page=True)
    page.goto(f"{sqlite_server.url}/training")
    page.screenshot(path=str(ARTIFACTS / "list.png"), full_page=True)
    context.close()
    assert problems == []
