"""The only Kopf code: handler wiring, operator settings, start-up and shutdown."""
