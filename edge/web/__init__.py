"""HTTP: routes per area, the JSON error middleware, health and readiness."""
