// batchprov web: drag-and-drop upload and live progress. The pages work without it.
(function () {
  "use strict";

  function setupUpload() {
    var drop = document.getElementById("drop");
    var input = document.getElementById("file");
    var form = document.getElementById("upload-form");
    if (!drop || !input || !form) { return; }
    var chosen = document.getElementById("file-chosen");
    var button = document.getElementById("upload-button");
    var limit = parseInt(drop.getAttribute("data-max"), 10) || 0;

    var note = "";  // says so when only the first of several dropped files was taken

    function show() {
      var file = input.files && input.files[0];
      chosen.classList.remove("too-big");
      if (!file) { chosen.textContent = ""; return true; }
      if (limit && file.size > limit) {
        chosen.classList.add("too-big");
        chosen.textContent = file.name + " is too large (" + size(file.size) + "; the limit is " +
          (limit / 1048576) + " MB).";
        return false;
      }
      chosen.textContent = "Selected: " + file.name + " (" + size(file.size) + ")" + note;
      return true;
    }

    function size(bytes) {
      if (bytes < 1048576) { return Math.max(1, Math.round(bytes / 1024)) + " KB"; }
      return (bytes / 1048576).toFixed(1) + " MB";
    }

    input.addEventListener("change", function () { note = ""; show(); });
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (event) {
        event.preventDefault();
        drop.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) { return; }
      note = "";
      if (files.length > 1 && typeof DataTransfer === "function") {
        var first = new DataTransfer();
        first.items.add(files[0]);
        files = first.files;
        note = " — one file at a time: the first of " + event.dataTransfer.files.length +
          " was taken";
      }
      input.files = files;
      show();
    });
    form.addEventListener("submit", function (event) {
      if (!show()) { event.preventDefault(); return; }
      button.disabled = true;  // one upload per click
      button.textContent = "Checking…";
    });
  }

  function setupConfirm() {
    var form = document.getElementById("order-form");
    if (!form) { return; }
    form.addEventListener("submit", function () {
      var button = document.getElementById("confirm-button");
      button.disabled = true;
      button.textContent = "Starting…";
    });
  }

  function row(cells, statusClass) {
    var tr = document.createElement("tr");
    if (statusClass) { tr.className = statusClass; }
    cells.forEach(function (cell) {
      var td = document.createElement("td");
      if (cell.badge) {
        var span = document.createElement("span");
        span.className = "badge " + statusClass;
        span.textContent = cell.badge;
        td.appendChild(span);
      } else {
        td.textContent = cell.text;  // text only: never markup from the sheet
      }
      if (cell.cls) { td.className = cell.cls; }
      tr.appendChild(td);
    });
    return tr;
  }

  function statusClass(status) {
    return "st-" + status.toLowerCase().replace(/[^a-z]+/g, "-").replace(/^-|-$/g, "");
  }

  function render(data) {
    document.querySelectorAll("[data-count]").forEach(function (el) {
      var value = data[el.getAttribute("data-count")];
      if (typeof value === "number") { el.textContent = String(value); }
    });
    var bar = document.getElementById("bar");
    bar.max = Math.max(data.total, 1);
    bar.value = data.done;
    bar.textContent = data.done + " of " + data.total;
    var state = document.getElementById("state");
    if (data.status === "stopping") {
      state.textContent =
        "Stopping: waiting for the requests already sent, then writing the results…";
      document.getElementById("stop-button").disabled = true;
    } else if (data.queued) {
      state.textContent = "Waiting: another order is running; this one starts when it ends.";
    } else {
      state.textContent = "Ordering…";
    }
    var recent = document.getElementById("recent");
    recent.replaceChildren.apply(recent, data.recent.map(function (r) {
      return row([
        {text: String(r.excel_row), cls: "num"}, {badge: r.status},
        {text: r.tracking_number, cls: "phone"}, {text: r.assigned_name}
      ], statusClass(r.status));
    }));
    var errors = document.getElementById("errors");
    errors.replaceChildren.apply(errors, data.errors.map(function (r) {
      var li = document.createElement("li");
      li.textContent = "Row " + r.excel_row + ": " + r.error;
      return li;
    }));
    document.getElementById("recent-section").hidden = data.recent.length === 0;
    document.getElementById("no-errors").hidden = data.errors.length > 0 || data.failed > 0;
  }

  function setupProgress() {
    var live = document.getElementById("live");
    if (!live) { return; }
    var url = live.getAttribute("data-url");
    var failures = 0;
    function poll() {
      fetch(url, {headers: {"Accept": "application/json"}, cache: "no-store"})
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) {
          failures = 0;
          render(data);
          if (data.finished) { window.location.reload(); return; }
          window.setTimeout(poll, 700);
        })
        .catch(function () {
          failures += 1;  // server restarting: keep trying, more slowly
          document.getElementById("state").textContent =
            "Waiting for the server… (the order resumes safely when it is back)";
          window.setTimeout(poll, Math.min(10000, 1000 * failures));
        });
    }
    stopForm();
    poll();
  }

  function stopForm() {
    var form = document.getElementById("stop-form");
    if (!form) { return; }
    form.addEventListener("submit", function () {
      document.getElementById("stop-button").disabled = true;
    });
  }

  function setupFix() {
    var form = document.getElementById("fix-form");
    if (!form) { return; }
    var note = document.getElementById("changes");
    var inputs = form.querySelectorAll("td.fix input");
    function count() {
      var changed = 0;
      inputs.forEach(function (input) {
        var differs = input.value !== input.getAttribute("data-was");
        input.classList.toggle("changed", differs);
        if (differs) { changed += 1; }
      });
      if (note) {
        note.textContent = changed ? changed + (changed === 1 ? " cell" : " cells") +
          " changed, not checked yet" : "";
      }
    }
    inputs.forEach(function (input) { input.addEventListener("input", count); });
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        window.setTimeout(function () { button.disabled = true; }, 0);  // after the value is sent
      });
      if (note) { note.textContent = "Checking…"; }
    });
  }

  setupUpload();
  setupConfirm();
  setupFix();
  setupProgress();
}());
