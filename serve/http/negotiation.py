"""Content negotiation by `Accept` (RFC 9110 §12.5.1): `choose` picks one of the media types a
route offers; `prefers_json` is the JSON-or-HTML question that problem bodies ask."""

from __future__ import annotations

_HTML = ("text/html", "application/xhtml+xml")
_JSON = ("application/json", "application/problem+json", "application/ld+json")


def _weights(accept: str) -> dict[str, float]:
    """Media range -> q (RFC 9110 §12.5.1); malformed q values count as 1."""
    weights: dict[str, float] = {}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 1.0
        weights[media.lower()] = max(q, weights.get(media.lower(), 0.0))
    return weights


def prefers_json(accept: str | None) -> bool:
    """Whether the client ranks a JSON type above HTML (a bare `*/*` gets HTML)."""
    if not accept:
        return False
    weights = _weights(accept)
    json_q = max((weights.get(t, 0.0) for t in _JSON), default=0.0)
    html_q = max((weights.get(t, 0.0) for t in _HTML), default=0.0)
    if html_q == 0.0:
        html_q = max(weights.get("text/*", 0.0), weights.get("*/*", 0.0) * 0.99)
    return json_q > 0.0 and json_q > html_q


def choose(accept: str | None, offers: tuple[str, ...]) -> str:
    """The offer the client ranks highest; ties, no `Accept`, or nothing acceptable go to
    the first offer (an HTML page rather than a 406). An offer's weight is that of the most
    specific range matching it: `type/subtype`, then `type/*`, then `*/*`."""
    if not accept:
        return offers[0]
    weights = _weights(accept)
    best, best_q = offers[0], 0.0
    for offer in offers:
        kind = offer.split("/", 1)[0]
        for candidate in (offer, f"{kind}/*", "*/*"):
            if candidate in weights:
                q = weights[candidate]
                break
        else:
            q = 0.0
        if q > best_q:
            best, best_q = offer, q
    return best
