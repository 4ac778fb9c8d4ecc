"""Background entry point of campaigns: thin, it calls the service."""

from __future__ import annotations

from django_tasks import task

from portal.request_context import logged_task


@task()
@logged_task()
def campaign_dispatch_task(campaign_id: int, lane: int = 0) -> str:
    from campaigns.services import campaign_dispatch  # services import this module

    return campaign_dispatch(campaign_id, lane)


@task()
@logged_task()
def campaign_list_read_task(read_id: int) -> str:
    from campaigns.lists import campaign_list_read_run  # the service imports this module

    return campaign_list_read_run(read_id)
