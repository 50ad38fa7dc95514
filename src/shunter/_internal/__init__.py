"""Small helpers with no knowledge of Kargo's API: YAML reading and the like."""
