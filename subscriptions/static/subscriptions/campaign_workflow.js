// The campaign workflow pages: confirm a cancel, and keep the progress page live by polling its
// JSON every 2 s (figures, progress bar, the messages-per-minute chart drawn with the Chart.js
// that the console's theme already loads). No third-party code of our own.
(function () {
  "use strict";

  document.querySelectorAll("form.pc-confirm").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm("Cancel this campaign for good? What is not sent yet never will be.")) {
        event.preventDefault();
      }
    });
  });

  var panel = document.getElementById("progress");
  if (!panel) return;
  var url = panel.getAttribute("data-live-url");
  var canvas = document.getElementById("per-minute-chart");
  var chart = null;

  function pick(data, path) {
    return path.split(".").reduce(function (value, key) {
      return value == null ? value : value[key];
    }, data);
  }

  function draw(series) {
    if (!canvas || typeof window.Chart === "undefined") return;
    var labels = series.map(function (point) {
      return new Date(point.minute).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    });
    var values = series.map(function (point) { return point.sent; });
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets[0].data = values;
      chart.update("none");
      return;
    }
    chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: [{ label: "Messages per minute", data: values, backgroundColor: "#4f46e5" }] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }

  function show(data) {
    document.querySelectorAll("[data-figure]").forEach(function (element) {
      var value = pick(data, element.getAttribute("data-figure"));
      if (value !== undefined && value !== null) element.textContent = value;
    });
    document.querySelectorAll("[data-figure-value]").forEach(function (element) {
      element.value = pick(data, element.getAttribute("data-figure-value"));
    });
    var status = document.getElementById("campaign-status");
    if (status) status.textContent = data.status_label;
    draw(data.per_minute || []);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response); })
      .then(function (data) {
        show(data);
        if (data.live) {
          window.setTimeout(poll, 2000);
        } else if (panel.getAttribute("data-live")) {
          // It just finished: load the page once more for the report's final layout.
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  poll();
})();
