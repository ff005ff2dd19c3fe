// The iotcreds console's only script: small progressive enhancements. Every page works as
// plain HTML forms without it, except uploading a file. Nothing here builds markup from
// strings: text goes in with textContent.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons next to code blocks.
  for (const b of document.querySelectorAll("button.copy[data-copy]")) {
    b.addEventListener("click", async () => {
      const el = document.getElementById(b.dataset.copy);
      if (!el) return;
      try {
        await navigator.clipboard.writeText(el.textContent);
        b.textContent = "Copied";
      } catch (_) {
        const range = document.createRange();
        range.selectNodeContents(el);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        b.textContent = "Selected";
      }
      setTimeout(() => { b.textContent = "Copy"; }, 1500);
    });
  }

  // Confirmation before destructive actions.
  for (const b of document.querySelectorAll("button[data-confirm]")) {
    b.addEventListener("click", (e) => {
      if (!window.confirm(b.dataset.confirm)) e.preventDefault();
    });
  }

  // The navigation on narrow screens.
  for (const b of document.querySelectorAll("button[data-toggle]")) {
    b.addEventListener("click", () => {
      const t = document.getElementById(b.dataset.toggle);
      if (t) t.classList.toggle("open");
    });
  }

  // JSON editors: syntax check as you type, and a formatter.
  for (const ed of document.querySelectorAll(".editor")) {
    const ta = ed.querySelector("textarea");
    const status = ed.querySelector(".json-status");
    const fmt = ed.querySelector(".format-json");
    if (!ta || !status) continue;
    const check = () => {
      if (ta.value.trim() === "") { status.textContent = ""; status.className = "json-status"; return; }
      try {
        JSON.parse(ta.value);
        status.textContent = "Valid JSON (IAM checks the policy grammar when you save).";
        status.className = "json-status ok";
      } catch (e) {
        status.textContent = "JSON error: " + e.message;
        status.className = "json-status error";
      }
    };
    ta.addEventListener("input", check);
    check();
    if (fmt) fmt.addEventListener("click", () => {
      try { ta.value = JSON.stringify(JSON.parse(ta.value), null, 2); check(); } catch (_) { check(); }
    });
  }

  // Uploads: the file is the body of a POST, with the session's CSRF token in a header.
  for (const form of document.querySelectorAll("form.upload")) {
    const status = form.querySelector(".upload-status");
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const file = form.querySelector("input[type=file]").files[0];
      if (!file) return;
      const keyInput = form.querySelector("input[name=key]");
      const key = (keyInput && keyInput.value.trim()) || (form.dataset.prefix + file.name);
      status.textContent = "Uploading " + key + "…";
      status.className = "upload-status";
      try {
        const resp = await fetch(form.dataset.action + "?key=" + encodeURIComponent(key), {
          method: "POST",
          headers: { "x-csrf-token": form.dataset.csrf, "content-type": "application/octet-stream" },
          body: file,
          credentials: "same-origin",
        });
        const v = await resp.json();
        if (resp.ok) {
          status.textContent = "Uploaded " + v.key + ".";
          status.className = "upload-status ok";
          window.location.assign(v.next);
        } else {
          status.textContent = v.code + ": " + v.message;
          status.className = "upload-status error";
        }
      } catch (err) {
        status.textContent = "Upload failed: " + err;
        status.className = "upload-status error";
      }
    });
  }

  // The connect flow's live check: poll until the device has credentials.
  const live = document.getElementById("live-check");
  if (live && live.dataset.check) {
    const render = (v) => {
      const p = document.createElement("p");
      p.dataset.state = v.state;
      if (v.state === "issued") {
        p.className = "msg ok";
        p.textContent = "The device got credentials at " + v.at + " (access key " + v.accessKeyId + ", valid until " + v.expiration + ").";
      } else if (v.state === "refused") {
        p.className = "msg error";
        p.textContent = "The device's last request was refused at " + v.at + ": " + v.reason +
          (v.statement ? " (deciding statement: " + v.statement + ")" : "");
      } else if (v.state === "error") {
        p.className = "msg error";
        p.textContent = v.message;
      } else {
        p.className = "msg info";
        p.textContent = "Waiting for the device's first credential request…";
      }
      live.replaceChildren(p);
      return v.state === "issued";
    };
    const poll = async () => {
      try {
        const resp = await fetch(live.dataset.check, { credentials: "same-origin" });
        if (render(await resp.json())) return;
      } catch (_) { /* keep polling */ }
      setTimeout(poll, 2000);
    };
    const first = live.querySelector("[data-state]");
    if (!first || first.dataset.state !== "issued") setTimeout(poll, 2000);
  }
});
