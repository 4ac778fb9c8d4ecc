"""Where "near a city or ZIP" on Rent New Number points: a small built-in table of US cities and
one ZIP each, with their coordinates (the carrier's inventory filter takes a latitude and
longitude, `phonenumber nearby latlng:<lat,lng>`, not a name). Extend the table to add places."""

from __future__ import annotations

from typing import NamedTuple


class Place(NamedTuple):
    city: str
    state: str
    zip: str
    lat: float
    lng: float

    @property
    def label(self) -> str:
        return f"{self.city}, {self.state} {self.zip}"


PLACES = [
    Place("New York", "NY", "10001", 40.7506, -73.9972),
    Place("Garden City", "NY", "11530", 40.7268, -73.6343),
    Place("Albany", "NY", "12207", 42.6526, -73.7562),
    Place("Boston", "MA", "02108", 42.3576, -71.0636),
    Place("Philadelphia", "PA", "19103", 39.9524, -75.1745),
    Place("Miami", "FL", "33130", 25.7680, -80.2040),
    Place("Atlanta", "GA", "30303", 33.7527, -84.3918),
    Place("Chicago", "IL", "60601", 41.8857, -87.6229),
    Place("Dallas", "TX", "75201", 32.7878, -96.7995),
    Place("Houston", "TX", "77002", 29.7566, -95.3654),
    Place("Austin", "TX", "78701", 30.2711, -97.7437),
    Place("Denver", "CO", "80202", 39.7526, -104.9994),
    Place("Phoenix", "AZ", "85003", 33.4500, -112.0783),
    Place("Los Angeles", "CA", "90012", 34.0614, -118.2385),
    Place("San Francisco", "CA", "94103", 37.7726, -122.4099),
    Place("Seattle", "WA", "98101", 47.6101, -122.3344),
]


def place_find(text: str) -> Place | None:
    """The place a person typed: a ZIP, a city ("boston"), or a label picked from the list."""
    wanted = " ".join(text.replace(",", " ").split()).lower()
    if not wanted:
        return None
    for place in PLACES:
        names = {
            place.zip,
            place.city.lower(),
            f"{place.city} {place.state}".lower(),
            " ".join(place.label.replace(",", " ").split()).lower(),
        }
        if wanted in names:
            return place
    return None
