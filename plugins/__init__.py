"""First-party model plugins of xray-anomalib, installed as ``xray_anomalib_plugins``.

Each plugin is found through the ``xray_anomalib.models`` entry-point group declared in ``pyproject.toml``;
the core never imports a plugin by name.
"""
