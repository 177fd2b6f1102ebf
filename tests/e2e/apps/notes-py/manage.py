"""`python manage.py init-db`: creates the tables (the Procfile's release step)."""
import sys

import db

if __name__ == "__main__":
    if sys.argv[1:] != ["init-db"]:
        sys.exit("usage: manage.py init-db")
    with db.connect() as conn:
        conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS notes (
                id INTEGER PRIMARY KEY, text TEXT NOT NULL, shouted TEXT
            );
            CREATE TABLE IF NOT EXISTS migrations (at TEXT DEFAULT CURRENT_TIMESTAMP);
            INSERT INTO migrations DEFAULT VALUES;
            """
        )
    print("database ready at", db.PATH)
