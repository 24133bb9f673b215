"""The server's JSON APIs: the curator API (`curator`), its request fields, its OpenAPI
document and the check that registered sources are public addresses."""
