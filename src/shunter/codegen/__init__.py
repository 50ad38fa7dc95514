"""Generated artefacts: CRDs (and later step schemas) derived from the pydantic models."""
