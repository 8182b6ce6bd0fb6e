"""Web pages of the archive app: `circle_patterns` live under /c/<slug>/, `urlpatterns` at the site root."""

from django.urls import path

from . import files_views, snapshot_views

circle_patterns: list = [
    path("files/", files_views.files_page, name="archive_files"),
    path("files/upload/", files_views.file_upload, name="archive_file_upload"),
    path("files/<str:public_id>/delete/", files_views.file_delete, name="archive_file_delete"),
    path("export/", files_views.export_page, name="archive_export"),
    # Archived copies of linked pages (snapshot_views.py).
    path("links/<int:snapshot_id>/", snapshot_views.snapshot_page, name="archive_snapshot"),
    path("links/<int:snapshot_id>/images/<int:position>/", snapshot_views.snapshot_image,
         name="archive_snapshot_image"),
    path("export/<str:public_id>/status/", files_views.export_status, name="archive_export_status"),
    path("export/<str:public_id>/download/", files_views.export_download, name="archive_export_download"),
]
urlpatterns: list = [
    # Downloads check the viewer's access on every request; there is no public URL of a stored blob.
    path("files/<str:public_id>/", files_views.file_download, name="archive_file_download"),
    path("files/<str:public_id>/thumb/", files_views.file_thumbnail, name="archive_file_thumbnail"),
]
