"""The multi-camera pipeline: sources, detection, tracking, part features, cross-camera association."""
