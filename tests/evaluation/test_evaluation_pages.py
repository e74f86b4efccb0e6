"""The dashboard's evaluation pages: the report with its numbers and charts, escaped text, and the actions."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.evaluation.conftest import register_trio, start_evaluation, upload_questions, wait_evaluation
from tests.evaluation.test_evaluations_api import FOUR, scripted_answer, scripted_grader, scripted_judge
from tests.fake_teacher import FakeTeacher
from tests.review.conftest import browser  # noqa: F401  (the shared headless Chromium)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "evaluation"
HOSTILE = "<script>window.__pwned='category'</script>"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def finished_evaluation(server: LiveServer, teacher: FakeTeacher, **payload: Any) -> int:
    teacher.answer = scripted_answer
    teacher.set_judge(scripted_judge)
    teacher.set_grader(scripted_grader)
    register_trio(server, training_run_id=5, export_id=9)
    questions = [q | {"category": HOSTILE} if q["question_id"] == "q4" else q for q in FOUR]
    upload_questions(server, "four", questions)
    evaluation_id = start_evaluation(server, question_set="four", **payload)
    wait_evaluation(server, evaluation_id, "succeeded")
    return evaluation_id


class TestPages:
    def test_the_report_page_shows_the_numbers_escaped(
        self, sqlite_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        evaluation_id = finished_evaluation(sqlite_server, teacher, name="<b>first</b> evaluation")
        response = sqlite_server.client.get(f"/evaluations/{evaluation_id}")
        assert response.status_code == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page = response.text
        assert '<span class="kpi-value" data-kpi="win-rate">25%</span>' in page
        assert '<span class="kpi-value" data-kpi="tie-rate">50%</span>' in page
        assert '<span class="kpi-value" data-kpi="relative-score">125%</span>' in page
        assert '<span class="kpi-value" data-kpi="flip-rate">50%</span>' in page
        assert '<span class="kpi-value" data-kpi="length-difference">+22.5</span>' in page
        assert 'href="/api/v1/training-runs/5"' in page and 'href="/api/v1/exports/9"' in page
        # Only the dashboard's own scripts; the hostile category and name show as text.
        assert [re.sub(r"\?v=[^\"]*", "", tag) for tag in re.findall(r"<script\b[^>]*>", page)] == [
            '<script src="/static/pasture.js" defer>',
            '<script src="/static/vendor/chartjs/chart.umd.min.js" defer>',
            '<script src="/evaluations/assets/evaluation.js" defer>',
        ]
        assert "&lt;b&gt;first&lt;/b&gt; evaluation" in page
        assert "&lt;script&gt;window.__pwned=&#39;category&#39;&lt;/script&gt;" in page
        embedded = re.search(r'data-evaluation-report="([^"]*)"', page)
        assert embedded is not None
        report = json.loads(html.unescape(embedded.group(1)))
        assert report == sqlite_server.client.get(f"/api/v1/evaluations/{evaluation_id}/report").json()

        listing = sqlite_server.client.get("/evaluations").text
        assert f'href="/evaluations/{evaluation_id}"' in listing and "25% / 50% / 25%" in listing
        script = sqlite_server.client.get("/evaluations/assets/evaluation.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")

    def test_empty_list_says_how_to_start(self, sqlite_server: LiveServer) -> None:
        page = sqlite_server.client.get("/evaluations").text
        assert "No evaluations yet" in page and "/api/v1/evaluations" in page and "/api/v1/models" in page
        missing = sqlite_server.client.get("/evaluations/42")
        assert missing.status_code == 404 and "evaluation 42 does not exist" in missing.text

    def test_cancel_from_the_page_needs_the_form_token(
        self, sqlite_server: LiveServer, teacher: FakeTeacher
    ) -> None:
        register_trio(sqlite_server, answered_by="worker")
        evaluation_id = start_evaluation(sqlite_server)
        wait_evaluation(sqlite_server, evaluation_id, "waiting")
        page = sqlite_server.client.get(f"/evaluations/{evaluation_id}").text
        refused = sqlite_server.client.post(
            f"/evaluations/{evaluation_id}/cancel", data={"csrf_token": "forged"}
        )
        assert refused.status_code == 403
        token = html.unescape(CSRF.search(page).group(1))  # type: ignore[union-attr]
        done = sqlite_server.client.post(f"/evaluations/{evaluation_id}/cancel", data={"csrf_token": token})
        assert (
            done.status_code == 303
            and done.headers["location"] == f"/evaluations/{evaluation_id}?done=cancel"
        )
        assert (
            sqlite_server.client.get(f"/api/v1/evaluations/{evaluation_id}").json()["status"] == "cancelled"
        )


@pytest.mark.browser
def test_charts_draw_in_a_real_browser(sqlite_server: LiveServer, teacher: FakeTeacher, browser: Any) -> None:  # noqa: F811
    evaluation_id = finished_evaluation(sqlite_server, teacher)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{sqlite_server.url}/evaluations/{evaluation_id}")
    page.wait_for_function("() => document.querySelector('[data-charts-status]').textContent === ''")
    drawn = page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('canvas[data-chart]')).map(c => {
             const chart = Chart.getChart(c);
             return [c.dataset.chart, chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : -1];
           }))"""
    )
    # Overall and three categories (math, writing, the hostile one), three outcomes each; three slices.
    assert drawn == {"outcomes": 12, "relative": 4, "flips": 4, "position": 3}
    assert page.evaluate("() => window.__pwned === undefined")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "evaluation-report.png"), full_page=True)
    context.close()
    assert problems == []
