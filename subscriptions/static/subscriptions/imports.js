// The console's import pages (templates/admin/subscriptions/import/).
//
// The upload form shows only the fields of the chosen mode (all of them without script).
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form) {
    return;
  }
  var groups = form.querySelectorAll("[data-import-mode]");
  function showMode() {
    var checked = form.querySelector('input[name="mode"]:checked');
    var mode = checked ? checked.value : "";
    for (var i = 0; i < groups.length; i++) {
      groups[i].hidden = groups[i].getAttribute("data-import-mode") !== mode;
    }
  }
  form.addEventListener("change", showMode);
  showMode();
})();

// A run's page polls its progress JSON every second and fills in the page; once the run has
// finished, it reloads the page, which then shows the final counts and the report.
(function () {
  "use strict";
  var root = document.getElementById("import-progress");
  if (!root || root.getAttribute("data-finished") === "true") {
    return;
  }
  var url = root.getAttribute("data-progress-url");
  var bar = root.querySelector("progress");

  function show(name, value) {
    var nodes = root.querySelectorAll('[data-field="' + name + '"]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].textContent = value;
    }
  }

  function render(data) {
    bar.value = data.percent;
    show("percent", data.percent + " %");
    show("status", data.status_label);
    show("rows", data.rows.toLocaleString());
    show("bytes", Math.round(data.bytes_done / 1024).toLocaleString() + " / " +
      Math.round(data.size_bytes / 1024).toLocaleString() + " KiB");
    var names = Object.keys(data.counts);
    for (var i = 0; i < names.length; i++) {
      var cell = root.querySelector('[data-count="' + names[i] + '"]');
      if (cell) {
        cell.textContent = data.counts[names[i]].toLocaleString();
      } else {
        addCount(names[i], data.count_labels[names[i]], data.counts[names[i]]);
      }
    }
  }

  function addCount(name, label, value) {
    var list = root.querySelector("[data-counts]");
    var empty = root.querySelector("[data-empty]");
    if (empty) {
      empty.hidden = true;
    }
    var term = document.createElement("dt");
    term.textContent = label;
    var detail = document.createElement("dd");
    detail.setAttribute("data-count", name);
    detail.textContent = value.toLocaleString();
    list.appendChild(term);
    list.appendChild(detail);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.json();
      })
      .then(function (data) {
        render(data);
        if (data.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        // A blip of the network or the server: keep trying, a little slower.
        window.setTimeout(poll, 3000);
      });
  }

  window.setTimeout(poll, 1000);
})();
