"""SQL written once for every engine: the schema (migrations/) and the queries the services
run through the store port. Engine differences live in the adapters, never here."""
