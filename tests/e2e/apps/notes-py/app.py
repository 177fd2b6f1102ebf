"""Notes: add one, list them; the worker fills in `shouted`."""
import os
import sys

from flask import Flask, jsonify, request

import db

app = Flask(__name__)
GREETING = "notes v1"


@app.get("/")
def index():
    return GREETING


@app.post("/notes")
def add_note():
    text = request.get_data(as_text=True)
    with db.connect() as conn:
        conn.execute("INSERT INTO notes (text) VALUES (?)", (text,))
    return "added\n", 201


@app.get("/notes")
def notes():
    with db.connect() as conn:
        rows = conn.execute("SELECT text, shouted FROM notes ORDER BY id").fetchall()
        releases = conn.execute("SELECT COUNT(*) FROM migrations").fetchone()[0]
    return jsonify(notes=[dict(r) for r in rows], releases=releases)


@app.get("/about")
def about():
    """Who runs the app, on which Python, and whether it can write beside its code."""
    uploads = os.path.join(os.path.dirname(os.path.abspath(__file__)), "uploads")
    try:
        os.makedirs(uploads, exist_ok=True)
        with open(os.path.join(uploads, "probe.txt"), "w") as f:
            f.write("ok")
        writable = True
    except OSError:
        writable = False
    return jsonify(
        uid=os.getuid(),
        python="%d.%d" % sys.version_info[:2],
        writable=writable,
        site=os.environ.get("SITE_NAME", ""),
    )
