// The live progress of an import run (admin/subscriptions/import/detail.html): polls the run's
// progress JSON every second and fills in the page; once the run has finished, reloads the page
// so it shows the final counts and the report.
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
        addCount(names[i], data.counts[names[i]]);
      }
    }
  }

  function addCount(name, value) {
    var list = root.querySelector("[data-counts]");
    var term = document.createElement("dt");
    term.textContent = name.replace(/_/g, " ");
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
