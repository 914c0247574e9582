// The page's only script: passkey buttons, step-up before sensitive forms, confirm dialogs and
// copy buttons. Everything else is plain HTML forms rendered by the server.
import { addPasskey, explain, login, register, steppedUp, stepUp } from "./passkeys.js";

function showError(scope, error) {
  const box = scope.querySelector("[data-passkey-error]");
  if (!box) return;
  box.textContent = explain(error);
  box.hidden = false;
}

function clearError(scope) {
  const box = scope.querySelector("[data-passkey-error]");
  if (box) box.hidden = true;
}

async function withButton(button, action) {
  const scope = button.closest("section, form") || document;
  clearError(scope);
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    showError(scope, error);
  } finally {
    button.disabled = false;
  }
}

// -- login and first setup ----------------------------------------------------------------
const loginButton = document.querySelector("[data-passkey-login]");
if (loginButton) {
  loginButton.addEventListener("click", () => withButton(loginButton, async () => {
    await login();
    window.location.assign(loginButton.dataset.next || "/sessions");
  }));
}

const setupButton = document.querySelector("[data-passkey-setup]");
if (setupButton) {
  // The secret rides in the fragment, which the browser never sends; take it and drop it from
  // the address bar and history.
  const setupToken = decodeURIComponent(window.location.hash.slice(1));
  if (window.location.hash) window.history.replaceState(null, "", window.location.pathname);
  if (!setupToken) {
    setupButton.disabled = true;
    document.querySelector("[data-setup-missing]").hidden = false;
  }
  setupButton.addEventListener("click", () => withButton(setupButton, async () => {
    await register(setupToken);
    window.location.assign("/sessions");
  }));
}

const addButton = document.querySelector("[data-add-passkey]");
if (addButton) {
  addButton.addEventListener("click", () => withButton(addButton, async () => {
    if (!(await steppedUp())) await stepUp();
    await addPasskey();
    document.querySelector("[data-passkey-done]").hidden = false;
  }));
}

// -- forms: confirm dialogs and step-up ----------------------------------------------------
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm !== undefined && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  if (form.dataset.stepUp === undefined) return;
  // The server refuses the action without a recent passkey assertion; get one first.
  event.preventDefault();
  const button = form.querySelector('[type="submit"]');
  withButton(button, async () => {
    if (form.dataset.stepUp === "always" || !(await steppedUp())) await stepUp();
    form.submit();
  });
});

// -- copy buttons --------------------------------------------------------------------------
async function copyText(text, source) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Without clipboard permission: select the text so that Ctrl+C works.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("copy");
  }
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const label = button.textContent;
  await copyText(source.textContent, source);
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
});
