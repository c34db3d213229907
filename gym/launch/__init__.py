"""Launching on Modal: the app builder (app.py) and what runs inside the containers (remote.py, cluster.py)."""
