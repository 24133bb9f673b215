"""HTTP itself, apart from what this server serves: RFC cores (ranges, conditional requests,
digests, content types and negotiation, URL paths), CORS and problem answers."""
