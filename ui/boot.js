// Loads the wasm UI (wasm-bindgen's `--target web` output) and shows a plain message if that
// fails, instead of a blank window.
import init from './berth-ui.js';

init().catch((e) => {
  console.error(e);
  document.body.textContent = `Berth's interface failed to start: ${e}`;
});
