"""The review dashboard: pages under ``/``, the review API, chart aggregates, login and CSRF.

Layers as elsewhere: ``pages`` and ``endpoints`` (HTTP only) call ``service`` (review rules), ``stats``
(chart aggregates) and ``app.records.service`` (finding records); templates autoescape every value and the
static files (with the vendored Chart.js) make the dashboard work offline.
"""
