"""A recipient list too long to read within the request, read by a worker instead.

Reading a list means parsing every number (phonenumbers, ~0.15 ms a row here) and writing a
recipient row for each: 50,000 rows took ~38 s inside the POST, past a proxy's timeout and with a
web worker blocked meanwhile. Lists over BACKGROUND_ROWS rows are therefore kept (the file in the
default storage, so any worker on any machine can read it) and read by `campaign_list_read_task`;
the page follows its progress and lands on the preview. Smaller lists are still read in the
request (campaigns/forms.py): at that size it takes well under a second, and the user sees the
preview, or an error beside the field, at once.

The form's values (name, DIDs, message, ...) wait with the list and are stored together with its
recipients, in one transaction: a list that cannot be read, or a worker killed midway, changes
nothing, and a campaign is never started with a list still being read.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, ListRead
from campaigns.recipients import MAX_LIST_BYTES, read_list, recipients_classify, recipients_write
from campaigns.tasks import campaign_list_read_task
from portal.progress import job_enqueue, progress_recorder, read_progress, worker_lost

# About 0.75 s in the request at the rate measured for 50,000 rows (38 s): below it, the
# preview straight away is worth more than a progress page that would flash past.
BACKGROUND_ROWS = 1_000
# The campaign's own values that wait with the list: CampaignForm's model fields, named once here.
FIELDS = (
    "name",
    "dids",
    "body",
    "rate_per_did",
    "cap",
    "start_at",
    "quiet_start",
    "quiet_end",
)
WORKER_LOST = (
    "the worker reading the list stopped before it finished (it was restarted, ran out of "
    "memory, or met an error of ours). Try again, or split the list into smaller files; if it "
    "happens again, tell an administrator."
)


def _fields_of(campaign: Campaign) -> dict:
    values = {}
    for name in FIELDS:
        field = Campaign._meta.get_field(name)
        value = field.value_from_object(campaign)
        values[name] = None if value is None else field.value_to_string(campaign)
    return values


def _fields_apply(campaign: Campaign, values: dict) -> None:
    for name in FIELDS:
        if name in values:
            setattr(campaign, name, Campaign._meta.get_field(name).to_python(values[name]))


def campaign_list_read_start(
    *, campaign: Campaign, upload: UploadedFile | None, pasted: str, user
) -> ListRead:
    """Keep the list (the file in the default storage) with the form's values for `campaign`
    (unsaved when new), and queue its read; the page then follows its progress."""
    job = ListRead(
        campaign=campaign if campaign.pk else None,
        fields=_fields_of(campaign),
        filename=(upload.name if upload else "")[:255],
        pasted=pasted,
        created_by=user,
    )
    if upload is not None:
        upload.seek(0)
        # Saved by chunks from the upload's temporary file: the list is never held whole here.
        job.file.save("list.csv", upload, save=False)
    job.save()
    job_enqueue(job, campaign_list_read_task)
    return job


def _stored_bytes(job: ListRead) -> bytes | None:
    if not job.file:
        return None
    with job.file.open("rb") as f:
        return f.read(MAX_LIST_BYTES + 1)


def _forget_list(job: ListRead) -> None:
    """The file and the pasted numbers are not kept once read (or found unreadable)."""
    if job.file:
        job.file.delete(save=False)
    ListRead.objects.filter(pk=job.pk).update(file="", pasted="")


def campaign_list_read_run(read_id: int) -> str:
    """The worker's side: read the list with progress, then store the campaign's values and its
    recipients together. Safe to run again: a read already finished is left alone, and one that
    died midway wrote nothing (its writes and its "done" share one transaction)."""
    job = ListRead.objects.filter(pk=read_id).first()
    if job is None or job.finished:
        return "nothing to do"
    jobs = ListRead.objects.filter(pk=read_id)
    jobs.update(state=ListRead.State.RUNNING, started_at=timezone.now(), rows_read=0)
    try:
        counts = _read(job, jobs)
    except ValidationError as err:
        jobs.update(
            state=ListRead.State.FAILED, finished_at=timezone.now(), error=" ".join(err.messages)
        )
        _forget_list(job)
        return "not read: " + " ".join(err.messages)
    _forget_list(job)
    return f"{counts['send']} to send, {sum(counts.values()) - counts['send']} removed"


def _read(job: ListRead, jobs) -> dict[str, int]:
    try:
        data = _stored_bytes(job)
    except OSError:
        raise ValidationError(
            "The uploaded file is no longer in the storage; upload it again."
        ) from None
    people = read_list(data, job.pasted)
    if people is None or not people.rows:
        raise ValidationError("The list holds no numbers.")
    campaign = job.campaign or Campaign(created_by=job.created_by)
    _fields_apply(campaign, job.fields)
    rows = recipients_classify(campaign, people, progress_recorder(jobs))
    with transaction.atomic():
        if job.campaign_id is not None:
            # Locked, so a Start pressed meanwhile waits and finds the list stored.
            draft = (
                Campaign.objects.select_for_update()
                .filter(pk=job.campaign_id, state=Campaign.State.DRAFT)
                .first()
            )
            if draft is None:
                raise ValidationError(
                    "The campaign is no longer a draft (it was started or deleted meanwhile), "
                    "so its list was left as it was."
                )
        campaign.save()
        counts = recipients_write(campaign, people, rows)
        jobs.update(state=ListRead.State.DONE, finished_at=timezone.now(), campaign=campaign)
    return counts


def list_reads_pending(campaign: Campaign) -> list[ListRead]:
    """The campaign's lists still being read (not those whose worker died for good)."""
    reads = campaign.list_reads.filter(state__in=[ListRead.State.QUEUED, ListRead.State.RUNNING])
    return [job for job in reads if not worker_lost(task_id=job.task_id, finished=job.finished)]


def list_read_progress(job: ListRead) -> dict:
    """What the progress page shows: how far the worker has read, when it should finish, and
    why it stopped when it did."""
    lost = worker_lost(task_id=job.task_id, finished=job.finished)
    return {
        "worker_lost": lost,
        "error": WORKER_LOST if lost else job.error,
        "failed": lost or job.state == ListRead.State.FAILED,
        "saving": job.state == ListRead.State.RUNNING
        and job.rows_total
        and job.rows_read >= job.rows_total,
        **read_progress(job),
    }
