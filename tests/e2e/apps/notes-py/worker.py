"""The background worker: shouts every note the web process added."""
import time

import db

print("worker up", flush=True)
while True:
    with db.connect() as conn:
        for row in conn.execute("SELECT id, text FROM notes WHERE shouted IS NULL").fetchall():
            conn.execute("UPDATE notes SET shouted = ? WHERE id = ?", (row["text"].upper(), row["id"]))
            print("shouted note", row["id"], flush=True)
    time.sleep(0.2)
