"""The operator's web app (FastAPI): browse a run, search by image, watch live cameras (docs/web.md)."""
