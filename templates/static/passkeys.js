// Passkeys (WebAuthn): the browser's half. A form marked data-passkey ("register", "second-factor"
// or "sign-in") fetches its ceremony's options from data-options (JSON, with the form's CSRF token
// in X-CSRFToken), lets the browser make or use a passkey, and posts the answer as JSON in the
// form's hidden "credential" field: the server answers as for any form (its page, or a redirect).
(() => {
  const supported = Boolean(window.PublicKeyCredential && navigator.credentials && window.isSecureContext);
  for (const note of document.querySelectorAll("[data-passkey-unsupported]")) note.hidden = supported;
  if (!supported) return;

  // base64url (RFC 4648 §5, no padding) <-> bytes: how the server's options and our answers carry binary.
  const toBytes = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(base64 + "===".slice((base64.length + 3) % 4)), (c) => c.charCodeAt(0));
  };
  const toText = (buffer) => {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const withIds = (list) => (list || []).map((descriptor) => ({ ...descriptor, id: toBytes(descriptor.id) }));

  const common = (credential) => ({
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
  });

  async function register(options) {
    const credential = await navigator.credentials.create({ publicKey: {
      ...options,
      challenge: toBytes(options.challenge),
      user: { ...options.user, id: toBytes(options.user.id) },
      excludeCredentials: withIds(options.excludeCredentials),
    } });
    const response = credential.response;
    return { ...common(credential), response: {
      clientDataJSON: toText(response.clientDataJSON),
      attestationObject: toText(response.attestationObject),
      transports: response.getTransports ? response.getTransports() : [],
    } };
  }

  async function use(options) {
    const credential = await navigator.credentials.get({ publicKey: {
      ...options,
      challenge: toBytes(options.challenge),
      allowCredentials: withIds(options.allowCredentials),
    } });
    const response = credential.response;
    return { ...common(credential), response: {
      clientDataJSON: toText(response.clientDataJSON),
      authenticatorData: toText(response.authenticatorData),
      signature: toText(response.signature),
      userHandle: response.userHandle ? toText(response.userHandle) : null,
    } };
  }

  async function optionsFor(form) {
    const response = await fetch(form.dataset.options, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": form.elements.csrf_token.value, Accept: "application/json" },
    });
    const json = (response.headers.get("Content-Type") || "").startsWith("application/json");
    const body = json ? await response.json() : null;
    if (!response.ok || !body) {
      throw new Error(body && body.error ? body.error.message : "The gateway could not start. Reload the page and try again.");
    }
    return body;
  }

  function explain(error) {
    if (error.name === "NotAllowedError") return "No passkey was used: it was cancelled, or the time ran out. Try again.";
    if (error.name === "InvalidStateError") return "This passkey is registered already.";
    if (error.name === "SecurityError") return "Passkeys cannot be used at this address.";
    return error.message || "The passkey could not be used. Try again.";
  }

  for (const form of document.querySelectorAll("form[data-passkey]")) {
    const status = form.querySelector(".passkey-status");
    const button = form.querySelector("button[type=submit]");
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      status.textContent = "Waiting for your passkey…";
      try {
        const options = await optionsFor(form);
        const answer = form.dataset.passkey === "register" ? await register(options) : await use(options);
        form.elements.credential.value = JSON.stringify(answer);
        status.textContent = "Checking…";
        form.submit();  // not a "submit" event: this handler does not run again
      } catch (error) {
        status.textContent = explain(error);
        button.disabled = false;
      }
    });
  }
})();
