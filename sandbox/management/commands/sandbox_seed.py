from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import reverse

from sandbox.models import SandboxDid
from sandbox.seed import seed


class Command(BaseCommand):
    help = (
        "In sandbox mode, create the sandbox's partner, DID group and DIDs (if missing) and point "
        "the partner's SMS callback at this portal's webhook; fill the inventory of numbers to "
        "rent. Does nothing outside sandbox mode."
    )

    def handle(self, *args: object, **options: object) -> None:
        if not settings.CARRIERX_SANDBOX:
            self.stdout.write("Not in sandbox mode (the real CarrierX is in use): nothing to seed.")
            return
        webhook = settings.PUBLIC_URL + reverse("webhook", args=[settings.CARRIERX_WEBHOOK_SECRET])
        partner = seed(sms_callback_url=webhook)
        dids = partner.dids.order_by("pk")
        self.stdout.write(
            self.style.SUCCESS(
                f"Sandbox partner {partner.name} ({partner.partner_sid}) has {dids.count()} DIDs "
                f"and {partner.did_groups.count()} DID group(s)."
            )
        )
        rentable = SandboxDid.objects.filter(partner=None, status=SandboxDid.Status.AVAILABLE)
        self.stdout.write(f"Inventory: {rentable.count()} numbers to rent (sandbox/README.md).")
        self.stdout.write(f"SMS callback: {webhook}")
        # The token is random per install; scripts and curl need it, and this is where `make run`
        # shows it.
        api = settings.CARRIERX_API_URL
        self.stdout.write(f"Sandbox API: {api}")
        self.stdout.write(f"Sandbox token: {settings.CARRIERX_TOKEN}")
        self.stdout.write(
            f'  curl -H "Authorization: Bearer {settings.CARRIERX_TOKEN}" {api}/phonenumber/dids'
        )
        self.stdout.write(
            f"Handset: {settings.PUBLIC_URL}{reverse('sandbox:phone')} (sign in as staff)"
        )
        for did in dids:
            group = f", group {did.did_group.name}" if did.did_group else ""
            self.stdout.write(
                f"  {did.phonenumber}  {did.name} (capabilities {did.capabilities}{group})"
            )
