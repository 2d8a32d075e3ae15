// The Data lake pages' actions: calls to the plugin's API. Values from the server are only ever set as
// text (textContent), never as markup.
"use strict";

const API = document.body.dataset.api;
const ROOT = document.body.dataset.root;
const WRITE = { "X-Datalake-Request": "page" };

function flash(text, bad) {
  const el = document.getElementById("flash");
  el.textContent = text;
  el.className = bad ? "flash error" : "flash";
  el.hidden = false;
}

async function answer(resp) {
  const type = resp.headers.get("content-type") || "";
  const body = type.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) {
    const detail = body && body.detail !== undefined ? body.detail : body;
    throw new Error(`${resp.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
  return body;
}

// Buttons with data-post: reprocess, approve, reject.
document.querySelectorAll("button[data-post]").forEach((button) => {
  button.addEventListener("click", async () => {
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    let url = button.dataset.post;
    if (button.dataset.reason !== undefined) {
      const reason = window.prompt(button.dataset.reason, "");
      if (reason === null) return;
      url += (url.includes("?") ? "&" : "?") + "reason=" + encodeURIComponent(reason);
    }
    button.disabled = true;
    try {
      const init = { method: "POST", credentials: "same-origin", headers: { ...WRITE } };
      if (button.dataset.body) {
        init.headers["Content-Type"] = "application/json";
        init.body = button.dataset.body;
      }
      await answer(await fetch(url, init));
      window.location.reload();
    } catch (err) {
      flash(err.message, true);
      button.disabled = false;
    }
  });
});

// The descriptor form: validate, push; problems listed with their lines.
const descriptorForm = document.getElementById("descriptor-form");
if (descriptorForm) {
  const problems = document.getElementById("problems");
  const show = (items) => {
    problems.replaceChildren();
    for (const p of items) {
      const li = document.createElement("li");
      li.textContent = `line ${p.line ?? "?"}: ${p.field_path ? p.field_path + ": " : ""}${p.message}`;
      problems.append(li);
    }
  };
  const send = async (url, method) => {
    const resp = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/yaml", ...WRITE },
      body: descriptorForm.elements.yaml.value,
    });
    return resp;
  };
  descriptorForm.querySelector("[data-validate]").addEventListener("click", async (e) => {
    try {
      const v = await answer(await send(e.target.dataset.validate, "POST"));
      show(v.problems);
      flash(v.valid ? `${v.name}: valid` : `${v.problems.length} problem(s)`, !v.valid);
    } catch (err) { flash(err.message, true); }
  });
  const push = descriptorForm.querySelector("[data-push]");
  if (push) {
    push.addEventListener("click", async () => {
      const resp = await send(push.dataset.push, "POST");
      const body = await resp.json();
      if (resp.status === 422 && body.detail && body.detail.problems) {
        show(body.detail.problems);
        flash(`${body.detail.problems.length} problem(s): nothing pushed`, true);
      } else if (!resp.ok) {
        flash(`${resp.status}: ${JSON.stringify(body.detail)}`, true);
      } else {
        window.location.href = `${ROOT}/ui/formats/${encodeURIComponent(body.name)}`;
      }
    });
  }
}

// The upload page: drag and drop, progress, then the record as it moves on.
const uploadForm = document.getElementById("upload-form");
if (uploadForm) {
  const input = document.getElementById("file");
  const drop = document.getElementById("drop");
  const chosen = document.getElementById("chosen");
  const state = document.getElementById("upload-state");
  const progress = document.getElementById("progress");
  let file = null;
  const choose = (f) => { file = f; chosen.textContent = f ? `${f.name} (${f.size} bytes)` : ""; };
  input.addEventListener("change", () => choose(input.files[0] || null));
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => choose(e.dataTransfer.files[0] || null));

  const watch = async (id) => {
    const statusEl = document.getElementById("result-status");
    for (let i = 0; i < 600; i++) {
      const d = await answer(await fetch(`${API}/objects/${encodeURIComponent(id)}`, { credentials: "same-origin" }));
      statusEl.textContent = d.record.status;
      statusEl.className = `badge s-${d.record.status}`;
      if (d.record.status === "processed" || d.record.status === "failed") return;
      if (d.record.status === "committed" && !d.dag_id) return; // no format: it stays in the raw zone
      await new Promise((r) => setTimeout(r, 2000));
    }
  };

  uploadForm.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!file) { flash("Choose a file first.", true); return; }
    if (file.size > Number(uploadForm.dataset.limit)) { flash("The file is over the upload limit.", true); return; }
    const params = new URLSearchParams({ name: file.name });
    for (const key of ["format", "container", "application", "metadata"]) {
      const v = uploadForm.elements[key].value.trim();
      if (v) params.set(key, v);
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${uploadForm.dataset.upload}?${params}`);
    xhr.setRequestHeader("X-Datalake-Request", "page");
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    progress.hidden = false;
    progress.value = 0;
    state.textContent = "Uploading…";
    xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) progress.value = (100 * ev.loaded) / ev.total; };
    xhr.onerror = () => flash("The upload failed: the connection was lost. Nothing was stored.", true);
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = { detail: xhr.responseText }; }
      if (xhr.status !== 200 && xhr.status !== 201) {
        state.textContent = "";
        flash(`${xhr.status}: ${typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)}`, true);
        return;
      }
      const rec = body.record;
      progress.value = 100;
      state.textContent = body.duplicate ? "Already stored: the same content has this record." : "Stored and committed.";
      document.getElementById("result").hidden = false;
      const link = document.getElementById("result-link");
      link.textContent = rec.original_object_name || rec._id;
      link.href = `${ROOT}/ui/objects/${encodeURIComponent(rec._id)}`;
      document.getElementById("result-size").textContent = `${rec.size} bytes`;
      document.getElementById("result-sha").textContent = rec.sha256 || "-";
      watch(rec._id).catch((err) => flash(err.message, true));
    };
    xhr.send(file);
  });
}
