"""The console's imports: the list of past runs, the "Import contacts" upload form, each run's
page with its live progress, and the download of its per-row report.

The form hands the file to the one import service (forms/imports.py → import_start); a worker
runs it. The run's page polls a small JSON view every second (static/subscriptions/imports.js)
until the run has finished, then shows the final counts and the first rows of the report.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from ..consent.exports import import_report_export
from ..forms.imports import ImportUploadForm
from ..models import Import
from ..models.choices import ImportMode, ImportRowOutcome, ImportStatus
from .base import staff_actor

# Report rows shown on a finished run's page; the download has them all.
REPORT_ROWS_SHOWN = 50


def import_progress(run: Import) -> dict:
    """What the run's page shows, as the JSON its script polls."""
    percent = 0
    if run.status == ImportStatus.DONE:
        percent = 100
    elif run.size_bytes:
        percent = min(99, int(run.bytes_done * 100 / run.size_bytes))
    return {
        "id": run.pk,
        "status": run.status,
        "status_label": str(run.get_status_display()),
        "finished": run.is_finished,
        "percent": percent,
        "bytes_done": run.bytes_done,
        "size_bytes": run.size_bytes,
        "rows": run.rows,
        "counts": run.counts or {},
        "count_labels": {name: count_label(name) for name in run.counts or {}},
        "error": run.error,
    }


def count_label(name: str) -> str:
    """How a count is named on the page: the outcome's label, or its name in words."""
    if name in ImportRowOutcome.values:
        return str(ImportRowOutcome(name).label)
    return name.replace("_", " ").capitalize()


@admin.register(Import)
class ImportAdmin(ModelAdmin):
    list_display = [
        "__str__",
        "status",
        "mode",
        "topic",
        "rows",
        "summary",
        "dry_run",
        "created_by",
        "created_at",
    ]
    list_display_links = ["__str__"]
    list_filter = ["status", "mode", "dry_run", "topic"]
    list_select_related = ["topic", "created_by"]
    search_fields = ["filename", "source"]
    date_hierarchy = "created_at"

    @admin.display(description=_("counts"))
    def summary(self, run: Import) -> str:
        counts = run.counts or {}
        return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()) if n) or "—"

    # --- permissions: a run is a fact; it is started by the form and changed by its worker ---

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("subscriptions.add_import")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/progress.json",
                view(self.progress_json_view),
                name="subscriptions_import_progress",
            ),
            path(
                "<int:pk>/report.csv",
                view(self.report_csv_view),
                name="subscriptions_import_report",
            ),
            *super().get_urls(),
        ]

    def _run(self, request: HttpRequest, pk) -> Import:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Import.objects.select_related("topic", "created_by"), pk=pk)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            run = form.start(actor=staff_actor(request))
            if run is not None:
                return redirect(reverse("admin:subscriptions_import_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import contacts"),
            "form": form,
            "modes": ImportMode,
        }
        return TemplateResponse(request, "admin/subscriptions/import/upload.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not str(object_id).isdigit():
            return redirect(reverse("admin:subscriptions_import_changelist"))
        run = self._run(request, object_id)
        progress = import_progress(run)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import %(id)s: %(name)s") % {"id": run.pk, "name": run.filename},
            "run": run,
            "progress": progress,
            "counts": [
                (name, progress["count_labels"][name], n) for name, n in progress["counts"].items()
            ],
            "report": run.row_errors.order_by("line")[:REPORT_ROWS_SHOWN],
            "report_count": run.row_errors.count() if run.is_finished else None,
            "report_rows_shown": REPORT_ROWS_SHOWN,
            "can_add": self.has_add_permission(request),
        }
        return TemplateResponse(request, "admin/subscriptions/import/detail.html", context)

    def progress_json_view(self, request, pk: int):
        return JsonResponse(import_progress(self._run(request, pk)))

    def report_csv_view(self, request, pk: int):
        run = self._run(request, pk)
        response = StreamingHttpResponse(
            import_report_export(run=run, exported_by=request.user.get_username()),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="import-{run.pk}-report.csv"'
        return response
