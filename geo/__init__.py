"""Geography: zones, distances and spatial lookups (pure, no servers)."""
