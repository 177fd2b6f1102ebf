//! The app-facing API every front end calls (CLI, desktop, relay): opens the store, secrets and connections and drives the engine.
