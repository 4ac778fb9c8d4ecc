"""On SQLite, a process's threads queue for the write lock on a lock of their own
(portal/sqlite3/base.py): held from BEGIN to COMMIT or ROLLBACK, and never kept by a failure."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from messaging.models import OptOut
from portal.sqlite3 import base

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock only"),
]


def test_a_transaction_holds_the_process_write_lock_until_it_commits():
    assert not base._write_lock.locked()
    with transaction.atomic():
        assert base._write_lock.locked()
        OptOut.objects.create(
            customer_number="12125550001", our_number="15162065575", changed_at=timezone.now()
        )
        with transaction.atomic():  # a savepoint takes nothing more
            OptOut.objects.filter(customer_number="12125550001").update(opted_out=False)
    assert not base._write_lock.locked()
    assert not OptOut.objects.get(customer_number="12125550001").opted_out


def test_a_transaction_that_fails_gives_the_lock_back_and_writes_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        OptOut.objects.create(
            customer_number="12125550002", our_number="15162065575", changed_at=timezone.now()
        )
        raise RuntimeError("boom")
    assert not base._write_lock.locked()
    assert not OptOut.objects.exists()


def test_threads_of_one_process_take_turns_and_every_write_lands():
    errors = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                with transaction.atomic():
                    OptOut.objects.create(
                        customer_number=f"1212555{n:02d}{i:02d}",
                        our_number="15162065575",
                        changed_at=timezone.now(),
                    )
        except Exception as err:  # noqa: BLE001 — collected and asserted below
            errors.append(err)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert OptOut.objects.count() == 8 * 20
    assert not base._write_lock.locked()
