"""The sandbox carrier's inventory of numbers to rent: 300 numbers across ten area codes in six
states, each with a locality, a point (latitude, longitude) near its city, capabilities and a
monthly price. Generated from a fixed seed, so every machine and every run has the same numbers
and SIDs; created by `sandbox_seed` and by the tests' `sandbox` fixture (through sandbox/seed.py).
"""

from __future__ import annotations

import random

from sandbox.models import SandboxDid

INVENTORY_SEED = 20261129
PER_AREA = 30
# (npa, state, locality, latitude, longitude, monthly price in USD)
AREAS = [
    ("212", "NY", "NEW YORK", 40.7128, -74.0060, "1.0"),
    ("516", "NY", "HEMPSTEAD", 40.7062, -73.6187, "0.6"),
    ("518", "NY", "ALBANY", 42.6526, -73.7562, "0.6"),
    ("415", "CA", "SAN FRANCISCO", 37.7749, -122.4194, "1.0"),
    ("213", "CA", "LOS ANGELES", 34.0522, -118.2437, "0.8"),
    ("312", "IL", "CHICAGO", 41.8781, -87.6298, "0.8"),
    ("512", "TX", "AUSTIN", 30.2672, -97.7431, "0.6"),
    ("713", "TX", "HOUSTON", 29.7604, -95.3698, "0.6"),
    ("305", "FL", "MIAMI", 25.7617, -80.1918, "0.75"),
    ("206", "WA", "SEATTLE", 47.6062, -122.3321, "0.75"),
]
ALL = SandboxDid.MESSAGING | SandboxDid.VOICE  # 31
SMS_AND_VOICE = SandboxDid.RECEIVE_SMS | SandboxDid.SEND_SMS | SandboxDid.VOICE  # 7
SMS_ONLY = SandboxDid.RECEIVE_SMS | SandboxDid.SEND_SMS  # 3
VOICE_ONLY = SandboxDid.VOICE  # 4
# How often each capability set occurs, out of 20.
CAPABILITY_MIX = [ALL] * 8 + [SMS_AND_VOICE] * 7 + [VOICE_ONLY] * 3 + [SMS_ONLY] * 2


def inventory_rows() -> list[dict]:
    """Every inventory number's fields, always the same. Exchange codes (NXX) start at 2 and skip
    555, so no number is one of the seeded DIDs (516-206-55xx) or a fictional 555 one."""
    rng = random.Random(INVENTORY_SEED)
    rows = []
    seen: set[str] = set()
    for npa, state, locality, lat, lng, price in AREAS:
        made = 0
        while made < PER_AREA:
            nxx = rng.randrange(201, 1000)
            number = f"1{npa}{nxx}{rng.randrange(10000):04d}"
            if nxx in (555, 206) or nxx % 100 == 11 or number in seen:
                continue
            seen.add(number)
            made += 1
            capabilities = rng.choice(CAPABILITY_MIX)
            rows.append(
                {
                    "phonenumber": number,
                    "state": state,
                    "locality": locality,
                    # Within about 20 km of the city centre.
                    "latitude": round(lat + rng.uniform(-0.18, 0.18), 5),
                    "longitude": round(lng + rng.uniform(-0.18, 0.18), 5),
                    "capabilities": capabilities,
                    "price": price,
                }
            )
    return rows


def inventory_seed() -> int:
    """Put every inventory number the sandbox does not have yet into its inventory (available,
    no partner, messaging off). Numbers already there (rented, aging) are left as they are.
    Returns how many were added."""
    from sandbox.seed import seeded_sid

    rows = inventory_rows()
    have = set(
        SandboxDid.objects.filter(phonenumber__in=[row["phonenumber"] for row in rows]).values_list(
            "phonenumber", flat=True
        )
    )
    new = [
        SandboxDid(
            did_sid=seeded_sid("inventory", row["phonenumber"]),
            partner=None,
            status=SandboxDid.Status.AVAILABLE,
            active_capabilities=row["capabilities"] & SandboxDid.VOICE,
            **row,
        )
        for row in rows
        if row["phonenumber"] not in have
    ]
    SandboxDid.objects.bulk_create(new)
    return len(new)
