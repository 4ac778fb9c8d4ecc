"""Background entry point of contacts: thin, it calls the service."""

from __future__ import annotations

from django_tasks import task

from portal.request_context import logged_task


@task()
@logged_task()
def contact_import_task(import_id: int) -> str:
    from contacts.imports import contact_import_run  # the service imports this module

    return contact_import_run(import_id)
