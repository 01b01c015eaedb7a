// Tessera's passkey script (served as /passkey.js; the only script of the sign-in, second-step
// and passkey pages). It drives one form, <form id="passkey" data-mode="sign-in|second-factor|
// register" data-options="…" action="…">, hidden until this script finds WebAuthn in the browser:
// it asks the server for options, hands them to navigator.credentials, posts the answer back and
// follows the redirect the server names. Without JavaScript or WebAuthn the pages work as before
// with passwords and codes.
(function () {
  "use strict";
  var form = document.getElementById("passkey");
  if (!form || !window.PublicKeyCredential || !navigator.credentials) {
    return;
  }
  form.hidden = false;
  var error = document.getElementById("passkey-error");

  function toBuffer(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var binary = atob(b64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBuffer(c.id) });
    });
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      user: Object.assign({}, json.user, { id: toBuffer(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials)
    });
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      allowCredentials: descriptors(json.allowCredentials)
    });
  }

  function answer(credential) {
    if (typeof credential.toJSON === "function") {
      return credential.toJSON();
    }
    var r = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      out.response.userHandle = r.userHandle ? toText(r.userHandle) : null;
    }
    return out;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () {
        return {};
      }).then(function (data) {
        if (!response.ok) {
          throw new Error(data.error_description || "The server did not accept the passkey.");
        }
        return data;
      });
    });
  }

  function field(name) {
    var input = form.elements[name];
    return input ? input.value : "";
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.hidden = true;
    var register = form.dataset.mode === "register";
    post(form.dataset.options, { csrf_token: field("csrf_token") })
      .then(function (data) {
        return register
          ? navigator.credentials.create({ publicKey: creationOptions(data.options) })
          : navigator.credentials.get({ publicKey: requestOptions(data.options) });
      })
      .then(function (credential) {
        return post(form.action, {
          csrf_token: field("csrf_token"),
          return_to: field("return_to"),
          name: field("name"),
          credential: answer(credential)
        });
      })
      .then(function (data) {
        window.location.assign(data.redirect);
      })
      .catch(function (err) {
        error.textContent = err && err.name === "NotAllowedError"
          ? "No passkey was used (it was cancelled, or the time ran out)."
          : (err && err.message) || String(err);
        error.hidden = false;
      });
  });
})();
