// The browser's half of the passkey ceremonies (WebAuthn), run against /api/v1/auth/*.
// The server keeps the challenges and checks everything; this only carries the options to
// navigator.credentials and the authenticator's answer back, in WebAuthn's JSON form.

const AUTH = "/api/v1/auth";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function post(path, body) {
  const headers = { "Content-Type": "application/json" };
  const token = csrfToken();
  if (token) headers["X-CSRF-Token"] = token;
  const response = await fetch(AUTH + path, {
    method: "POST", headers, credentials: "same-origin", body: JSON.stringify(body || {}),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = answer && answer.error && answer.error.message;
    throw new Error(message || `the server answered ${response.status}`);
  }
  return answer;
}

async function create(begin, finish, body) {
  const begun = await post(begin, body);
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(begun.options);
  const credential = await navigator.credentials.create({ publicKey });
  return post(finish, { challenge_id: begun.challenge_id, credential: credential.toJSON() });
}

async function assertion(begin, finish) {
  const begun = await post(begin, {});
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(begun.options);
  const credential = await navigator.credentials.get({ publicKey });
  return post(finish, { challenge_id: begun.challenge_id, credential: credential.toJSON() });
}

/** Register the first passkey of a new admin with the setup link's secret; logs in. */
export function register(setupToken) {
  return create("/register/begin", "/register/finish", { setup_token: setupToken });
}

/** Log in with any passkey this browser offers for the site. */
export function login() {
  return assertion("/login/begin", "/login/finish");
}

/** A fresh assertion by the logged-in admin: sensitive actions are allowed for 5 minutes. */
export function stepUp() {
  return assertion("/step-up/begin", "/step-up/finish");
}

/** Register one more passkey for the logged-in admin (needs a fresh step-up). */
export function addPasskey() {
  return create("/passkeys/begin", "/passkeys/finish", {});
}

/** Whether the last assertion is recent enough to cover the next minute. */
export async function steppedUp() {
  const response = await fetch(AUTH + "/me", { credentials: "same-origin" });
  if (!response.ok) return false;
  const me = await response.json();
  if (!me.step_up_valid_until) return false;
  return Date.parse(me.step_up_valid_until) - Date.now() > 60_000;
}

/** A sentence for the operator, whatever failed. */
export function explain(error) {
  if (error && error.name === "NotAllowedError") {
    return "The passkey prompt was cancelled or timed out, or this device could not verify " +
      "you (a fingerprint, face or PIN is required). Try again.";
  }
  if (error && error.name === "InvalidStateError") {
    return "This authenticator already holds a passkey for this account.";
  }
  if (typeof PublicKeyCredential === "undefined") {
    return "This browser does not support passkeys.";
  }
  return (error && error.message) || String(error);
}
